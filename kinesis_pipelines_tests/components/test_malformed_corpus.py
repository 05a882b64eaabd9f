"""A corpus of malformed defs.yaml files. Each must give an error naming the file and line, the
field and what is allowed, in `kinesis-pipelines validate` and when a code location loads (the
path the webserver and `dg check defs` take), and change nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from kinesis_pipelines.cli import main
from kinesis_pipelines_tests.components.test_attributes import SHAPE_MISTAKES
from kinesis_pipelines_tests.support.dg_project import make_project

CORPUS = Path(__file__).with_name("corpus")
SINGLE = sorted((CORPUS / "single").iterdir())
PAIRS = sorted((CORPUS / "pairs").iterdir())


def expectations(case: Path, defs_file: Path, name: str = "expect.txt") -> list[str]:
    """What an error must say; `expect_load.txt`, where present, for a code-location load (Dagster
    reads malformed YAML itself and words that error its own way)."""
    source = case / name if (case / name).exists() else case / "expect.txt"
    wanted = []
    for item in source.read_text().splitlines():
        wanted.append(f"{defs_file}:{item}:" if item.isdigit() else item)
    return wanted


def test_corpus_is_large_enough() -> None:
    assert len(SINGLE) + len(PAIRS) >= 20


@pytest.mark.parametrize("case", SINGLE, ids=lambda p: p.name)
def test_validate_names_file_line_field_and_allowed(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    defs_file = case / "defs.yaml"
    assert main(["validate", str(defs_file)]) == 2
    err = capsys.readouterr().err
    for wanted in expectations(case, defs_file):
        assert wanted in err, f"{wanted!r} not in:\n{err}"
    assert "hunter2" not in err  # a secret in a bad file is never echoed


@pytest.mark.parametrize("case", SINGLE, ids=lambda p: p.name)
def test_code_location_load_gives_the_same_error(case: Path, tmp_path: Path) -> None:
    root, _package = make_project(tmp_path, {"bad": case / "defs.yaml"})
    sys.path.insert(0, str(root))
    try:
        with pytest.raises(Exception) as caught:
            dg.load_from_defs_folder(project_root=root).get_repository_def()
    finally:
        sys.path.remove(str(root))
    message = "".join(str(e) for e in _chain(caught.value))
    defs_file = root / _package / "defs" / "bad" / "defs.yaml"
    for wanted in expectations(case, defs_file, "expect_load.txt"):
        if wanted.startswith(str(defs_file)):
            wanted = wanted.replace(str(defs_file), "defs.yaml")  # Dagster may shorten the path
        assert wanted in message, f"{wanted!r} not in:\n{message}"


@pytest.mark.parametrize("case", PAIRS, ids=lambda p: p.name)
def test_pipelines_that_collide_are_refused(
    case: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [case / "a" / "defs.yaml", case / "b" / "defs.yaml"]
    assert main(["validate", *map(str, files)]) == 2
    err = capsys.readouterr().err
    assert str(files[1]) in err
    for wanted in expectations(case, files[1]):
        assert wanted in err
    root, _package = make_project(tmp_path, {"a": files[0], "b": files[1]})
    sys.path.insert(0, str(root))
    try:
        with pytest.raises(Exception) as caught:
            dg.load_from_defs_folder(project_root=root)
    finally:
        sys.path.remove(str(root))
    message = "".join(str(e) for e in _chain(caught.value))
    for wanted in expectations(case, files[1]):
        assert wanted in message


@pytest.mark.parametrize("case", [SINGLE[2], SINGLE[20], SINGLE[22]], ids=lambda p: p.name)
def test_dg_check_defs_reports_it(case: Path, tmp_path: Path) -> None:
    root, package = make_project(tmp_path, {"bad": case / "defs.yaml"})
    dg = Path(sys.executable).with_name("dg")
    result = subprocess.run(
        [str(dg), "check", "defs"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(), "PYTHONPATH": str(root)},
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    if case.name in SHAPE_MISTAKES:  # dg checks the attributes' schema first, in its own words
        line, field = (case / "expect.txt").read_text().splitlines()[:2]
        assert f"defs.yaml:{line} - " in output and f"attributes.{field} " in output, output[-3000:]
        assert SHAPE_MISTAKES[case.name][1] in output, output[-3000:]
        return
    for wanted in expectations(case, root / package / "defs" / "bad" / "defs.yaml", "expect_load.txt"):
        wanted = wanted.split("defs.yaml")[-1] if "defs.yaml" in wanted else wanted
        assert wanted in output, f"{wanted!r} not in:\n{output[-3000:]}"


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen
