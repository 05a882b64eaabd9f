"""The CLI on good and bad input: clear errors naming file and field, exit 2, nothing created."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kinesis_pipelines.cli import main

EXAMPLES = Path(__file__).parents[1] / "kinesis_pipelines" / "defs"


def write(tmp_path: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """\
name: orders
stream: {name: orders, endpoint_url: embedded, shards: 2}
app_table: {application_name: orders-app, endpoint_url: embedded}
job: {checkpoint_dir: cp, sink: {path: out}, executor_cores: 4}
"""


def test_validate_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, sorted(EXAMPLES.glob("*/defs.yaml")))]) == 0
    assert "ok: pipeline records" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: orders\nstream: {name: [\n", "not valid YAML"),
        (GOOD.replace("shards: 2", "shards: 0"), "stream.shards: Input should be greater"),
        (GOOD.replace("shards: 2", "shards: -1"), "stream.shards"),
        (GOOD.replace("name: orders\n", "name: orders\ncolour: red\n"), "colour: unknown key"),
        (GOOD.replace("name: orders,", "name: 'bad stream',"), "stream.name: a stream name"),
        (GOOD.replace("shards: 2", "shards: lots"), "stream.shards: Input should be a valid int"),
        (GOOD.replace("sink:", "processor: 'no_such_module:fn', sink:"), "No module named"),
        (
            GOOD.replace("sink:", "processor: 'kinesis_pipelines.app.processors:nope', sink:"),
            "has no function 'nope'",
        ),
    ],
)
def test_bad_input_is_named_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    for command in ("validate", "plan"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err
        assert expected in err
    assert not (tmp_path / ".kinesis-pipelines").exists()


def test_plan_without_aws_shows_the_submit_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINESIS_PIPELINES_HOME", str(tmp_path / "home"))  # no embedded AWS here
    path = write(tmp_path, GOOD)
    assert main(["plan", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["receivers"] == 2 and report["cores"] == 3
    assert report["master"] == "local[3]"
    assert "spark-submit --master 'local[3]'" in report["spark_submit"]
    assert "--jars" in report["spark_submit"]
    assert "receiver_app.py" in report["spark_submit"]
    assert "SECRET" not in report["spark_submit"]
    assert any("not running" in note for note in report["notes"])
    # the files the line reads are named, and where they come from; plan writes nothing by default
    assert [Path(f).name for f in report["files"]] == ["job.json", "region-override.xml"]
    assert not any(Path(f).exists() for f in report["files"])
    assert any("plan SPEC --write-files" in note for note in report["notes"])
    assert "default chain" in report["credentials"]
    assert main(["plan", "--json", "--write-files", str(path)]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert written["files_written"] and all(Path(f).exists() for f in written["files"])


def test_plan_refuses_an_impossible_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("executor_cores: 4", "executor_cores: 2, processing_cores: 2"))
    assert main(["plan", str(path)]) == 2
    assert "must exceed processing_cores" in capsys.readouterr().err


def test_missing_java_and_maven_are_named(tmp_path: Path) -> None:
    """With no java or mvn on PATH, building the assembly says what is missing, exits 2."""
    env = {"PATH": str(tmp_path), "KINESIS_PIPELINES_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-m", "kinesis_pipelines.cli", "assembly"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert "mvn is needed to build the kinesis-asl assembly jar" in result.stderr
    assert "install Maven" in result.stderr


def test_iam_writes_linted_policies_per_pipeline_and_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = sorted(map(str, EXAMPLES.glob("*/defs.yaml")))
    assert main(["iam", *specs, "--account", "123456789012", "--out", str(tmp_path)]) == 0
    said = capsys.readouterr()
    assert "### IAM for pipeline `records`" in said.out and "lint:" not in said.err
    written = sorted(path.name for path in tmp_path.iterdir())
    assert "records.driver.json" in written and "wordcount.orchestrator.json" in written
    driver = json.loads((tmp_path / "records.driver.json").read_text())
    resources = {statement["Resource"] for statement in driver["Statement"]}
    assert "arn:aws:kinesis:us-east-1:123456789012:stream/kp-records" in resources


def test_every_command_and_argument_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """--version, and for every command: help with an example, and help on each argument."""
    from kinesis_pipelines import __version__
    from kinesis_pipelines.cli import build_parser

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.strip() == f"kinesis-pipelines {__version__}"
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in subparsers.choices.items():
        assert "example:\n  kinesis-pipelines " + name in command.format_help(), name
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"{name} {action.dest} has no help"


def test_stateful_commands_say_where_state_lives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KINESIS_PIPELINES_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, GOOD)
    main(["status", str(path)])
    err = capsys.readouterr().err
    assert f"state: {tmp_path / 'data' / 'kinesis-pipelines'} (the default; set KINESIS_PIPELINES_HOME" in err
    assert not (tmp_path / ".kinesis-pipelines").exists()  # not under the working directory any more
