from __future__ import annotations

from pathlib import Path

import pytest

from kinesis_pipelines.app.fencing import FenceLost
from kinesis_pipelines.app.sinks import publish_dir, read_output, to_line, write_lines_batch
from kinesis_pipelines.app.storage import LocalFiles


def test_replayed_batch_replaces_its_output(tmp_path: Path) -> None:
    write_lines_batch(tmp_path, 1000, ["a", "b"])
    write_lines_batch(tmp_path, 2000, ["c"])
    write_lines_batch(tmp_path, 1000, ["a", "b"])  # the same batch time, replayed
    assert list(read_output(tmp_path)) == ["a", "b", "c"]
    assert len(list(tmp_path.glob("batch-*"))) == 2
    assert not list(tmp_path.glob("_*"))  # no staging or replaced leftovers


def test_replay_with_different_content_keeps_only_the_last(tmp_path: Path) -> None:
    write_lines_batch(tmp_path, 1000, ["old"])
    write_lines_batch(tmp_path, 1000, ["new"])
    assert list(read_output(tmp_path)) == ["new"]


def test_unpublished_staging_is_never_read(tmp_path: Path) -> None:
    (tmp_path / "_staging-1-x").mkdir()
    (tmp_path / "_staging-1-x" / "part-00000").write_text("half-written\n")
    assert list(read_output(tmp_path)) == []


def test_lines() -> None:
    assert to_line("x") == "x"
    assert to_line(("word", 3)) == '["word", 3]'
    assert to_line({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_a_deposed_driver_cannot_replace_a_newer_holders_batch(tmp_path: Path) -> None:
    """Output goes with the fencing token it was published under; a lower token never replaces it."""
    files = LocalFiles()

    def staged(text: str) -> str:
        folder = tmp_path / f"_staging-{text}"
        folder.mkdir()
        (folder / "part-00000").write_text(text + "\n")
        return str(folder)

    final = str(tmp_path / "batch-000000000001000")
    publish_dir(files, final, staged("first"), token=1)
    publish_dir(files, final, staged("successor"), token=2)
    with pytest.raises(FenceLost, match="newer than this driver's 1"):
        publish_dir(files, final, staged("deposed"), token=1)
    assert list(read_output(tmp_path)) == ["successor"]
    assert not list(tmp_path.glob("_staging-*"))  # the refused output is cleaned away
    publish_dir(files, final, staged("replay"), token=2)  # the holder's own replay replaces it
    assert list(read_output(tmp_path)) == ["replay"]
