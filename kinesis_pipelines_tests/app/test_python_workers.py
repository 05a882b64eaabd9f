"""A Python worker's tasks do not re-read the zips on its path (pyspark invalidates import caches
before every task)."""

from __future__ import annotations

import importlib
import sys
import zipfile
import zipimport
from pathlib import Path

import pytest

from kinesis_pipelines.app.python_workers import keep_zip_directories


def test_invalidating_import_caches_reads_no_archive_and_imports_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "modules.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("kp_zipped_first.py", "VALUE = 1\n")
        zipped.writestr("kp_zipped_second.py", "VALUE = 2\n")
    monkeypatch.syspath_prepend(str(archive))
    reads: list[str] = []
    read_directory = zipimport._read_directory  # type: ignore[attr-defined]

    def counted(path: str) -> object:
        reads.append(path)
        return read_directory(path)

    monkeypatch.setattr(zipimport, "_read_directory", counted)
    importlib.import_module("kp_zipped_first")
    reads.clear()

    keep_zip_directories()
    for _ in range(3):
        importlib.invalidate_caches()  # what pyspark's worker does before each task

    assert reads == []
    assert importlib.import_module("kp_zipped_second").VALUE == 2
    for name in ("kp_zipped_first", "kp_zipped_second"):
        sys.modules.pop(name, None)
