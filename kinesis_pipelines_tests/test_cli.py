"""The CLI on good and bad input: clear errors naming file and field, exit codes by kind (docs/cli.md),
results alone on stdout (one JSON object with --json) and everything else on stderr."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.control import JOB_FILE
from kinesis_pipelines.cli import STATEFUL_COMMANDS, ExitCode, exit_code_for, main, status_exit_code
from kinesis_pipelines.errors import (
    AssemblyError,
    AwsError,
    EmulatorError,
    KinesisPipelinesError,
    LaunchError,
    OperationLockedError,
    PlanError,
    SpecError,
    StreamMissingError,
    ToolMissingError,
)
from kinesis_pipelines.launch import LocalProcessLauncher, SubmitRequest
from kinesis_pipelines.launch.submit import driver_config
from kinesis_pipelines.logfiles import rotated_files
from kinesis_pipelines.operations.roll import receiver_plan
from kinesis_pipelines.operations.status import PipelineStatus
from kinesis_pipelines.spec import load_spec

EXAMPLES = Path(__file__).parents[1] / "kinesis_pipelines" / "defs"


def one_object(stdout: str) -> Any:
    """What --json promises: stdout is exactly one compact JSON object on one line."""
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout[-2000:]
    value = json.loads(stdout)
    assert isinstance(value, dict), stdout[:200]
    assert stdout == json.dumps(value, separators=(",", ":")) + "\n"  # compact
    return value


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
    report = one_object(capsys.readouterr().out)
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
    written = one_object(capsys.readouterr().out)
    assert written["files_written"] and all(Path(f).exists() for f in written["files"])


def test_plan_refuses_an_impossible_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("executor_cores: 4", "executor_cores: 2, processing_cores: 2"))
    assert main(["plan", str(path)]) == 2
    assert "must exceed processing_cores" in capsys.readouterr().err


def test_missing_java_and_maven_are_named(tmp_path: Path) -> None:
    """With no java or mvn on PATH, building the assembly says what is missing and fails (exit 1:
    the command was right, the host lacks a tool); with --json stdout holds the error alone."""
    env = {"PATH": str(tmp_path), "KINESIS_PIPELINES_CACHE": str(tmp_path / "cache")}
    for extra in ([], ["--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "kinesis_pipelines.cli", "assembly", *extra],
            capture_output=True,
            text=True,
            env=env,
        )
        assert result.returncode == 1
        assert "mvn is needed to build the kinesis-asl assembly jar" in result.stderr
        assert "install Maven" in result.stderr
        if extra:
            error = one_object(result.stdout)
            assert (error["kind"], error["exit_code"]) == ("ToolMissingError", 1)
            assert "mvn is needed" in error["error"]
        else:
            assert result.stdout == ""


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


def test_exit_codes_are_one_table_in_the_code_and_in_the_docs() -> None:
    """Each exit code is in docs/cli.md's table under its name, and each error kind maps to one."""
    doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \| `{code.name}` \|", doc, re.MULTILINE), code
    assert exit_code_for(SpecError("bad field")) is ExitCode.USAGE
    assert exit_code_for(PlanError("too few cores")) is ExitCode.USAGE
    for kind in (AwsError, StreamMissingError, LaunchError, OperationLockedError, ToolMissingError,
                 EmulatorError, AssemblyError, KinesisPipelinesError):  # fmt: skip
        assert exit_code_for(kind("failed")) is ExitCode.FAILED, kind


def status_of(**fields: Any) -> PipelineStatus:
    return PipelineStatus(pipeline="p", deployed=True, observed_at=0.0, lag_limit_ms=60_000, **fields)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (status_of(health="healthy", lag_ms_per_shard={"s0": 1_000, "s1": 59_000}), ExitCode.OK),
        (status_of(health="healthy"), ExitCode.OK),  # no lease checkpoints yet
        (status_of(health="healthy", lag_ms_per_shard={"s0": 1_000, "s1": 61_000}), ExitCode.UNHEALTHY),
        (status_of(health="healthy", lag_unknown="DynamoDB refused"), ExitCode.UNHEALTHY),
        (status_of(health="stalled"), ExitCode.UNHEALTHY),
        (status_of(health="failed"), ExitCode.UNHEALTHY),
        (status_of(health="stopped", intent="running"), ExitCode.UNHEALTHY),
        (status_of(health="stopped", intent="stopped"), ExitCode.NOT_RUNNING),
        (PipelineStatus(pipeline="p", deployed=False, observed_at=0.0), ExitCode.NOT_RUNNING),
    ],
)
def test_status_exits_0_only_when_healthy_and_keeping_up(status: PipelineStatus, code: ExitCode) -> None:
    assert status_exit_code(status) is code


def test_a_usage_error_exits_2_and_with_json_is_an_object_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 2
    said = capsys.readouterr()
    assert said.out == "" and "usage: kinesis-pipelines status" in said.err and "required: spec" in said.err
    for argv, expected in [
        (["status", "--json"], "required: spec"),
        (["demo", "--json", "--duration", "soon"], "invalid float value: 'soon'"),
        (["logs", "p.yaml", "--json", "--follow"], "cannot --follow"),
        (["no-such-command", "--json"], "invalid choice"),
    ]:
        assert main(argv) == 2, argv
        error = one_object(capsys.readouterr().out)
        assert error["kind"] == "UsageError" and expected in error["error"] and error["exit_code"] == 2


def test_commands_that_need_no_aws_print_one_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate, plan, iam, schema, local-aws status, and the errors of deploy and assembly."""
    monkeypatch.setenv("KINESIS_PIPELINES_HOME", str(tmp_path / "home"))  # no embedded AWS here
    path = write(tmp_path, GOOD)
    examples = sorted(map(str, EXAMPLES.glob("*/defs.yaml")))

    def run(*argv: str, code: int = 0) -> Any:
        assert main([*argv, "--json"]) == code, argv
        return one_object(capsys.readouterr().out)

    assert run("validate", str(path))["pipelines"] == [
        {"file": str(path), "pipeline": "orders", "stream": "orders"}
    ]
    assert (
        run("validate", str(write(tmp_path, GOOD.replace("shards: 2", "shards: 0"), "bad.yaml")), code=2)[
            "kind"
        ]
        == "SpecError"
    )
    assert run("plan", str(path))["receivers"] == 2
    policies = run("iam", *examples, "--account", "123456789012")
    assert [p["pipeline"] for p in policies["pipelines"]] == ["records", "wordcount"] and not policies[
        "findings"
    ]
    assert run("schema")["type"] == "object"
    assert run("local-aws", "status") == {"running": False}
    assert run("deploy", str(path), code=1)["kind"] == "EmulatorError"  # embedded AWS not started
    assert run("assembly", "--spark-version", "1.0.0", code=1)["kind"] == "AssemblyError"
    assert main(["local-aws", "status"]) == 0
    assert capsys.readouterr().out == "embedded AWS not running (never started here)\n"


def embedded_spec(tmp_path: Path, name: str) -> Path:
    return write(
        tmp_path,
        f"""\
name: {name}
stream: {{name: s-{name}, endpoint_url: embedded, shards: 1}}
app_table: {{application_name: app-{name}, endpoint_url: embedded}}
job: {{checkpoint_dir: cp-{name}, sink: {{path: {tmp_path / "out"}}}, executor_cores: 2}}
driver_log: {{max_mb: 1, backups: 3}}
""",
        f"{name}.yaml",
    )


def test_operator_commands_on_the_embedded_aws_print_one_object_and_exit_by_kind(
    local_aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every operator command on a pipeline that was never deployed, before and after its stream
    exists: one object on stdout (the error's, when it fails), notes on stderr, the exit code of
    what happened. deploy and demo succeed only with Spark: e2e/test_orchestrator_env.py runs
    `deploy --json`, and an error of each is an object here and above."""
    name = f"cli_json_{uuid.uuid4().hex[:6]}"
    path = str(embedded_spec(tmp_path, name))

    def run(*argv: str, code: int = 0) -> Any:
        assert main([*argv, "--json"]) == code, (argv, capsys.readouterr().err[-3000:])
        said = capsys.readouterr()
        if argv[0] in STATEFUL_COMMANDS:
            assert said.err.startswith("state: ")  # notes go to stderr, never into the object
        assert not any(line.startswith("{") for line in said.err.splitlines())  # the object is stdout's
        return one_object(said.out)

    assert run("status", path, code=ExitCode.NOT_RUNNING)["deployed"] is False
    assert run("stop", path) == {"pipeline": name, "driver": None}
    assert run("logs", path, code=1) == {"pipeline": name, "deployed": False, "lines": []}
    assert run("produce", path, "--ids", "5", code=1)["kind"] == "StreamMissingError"
    assert run("restart", path, code=1)["kind"] == "StreamMissingError"
    assert run("plan", path)["stream_exists"] is False
    spec = load_spec(Path(path))
    operations.backends_for(spec).stream.ensure_stream()
    assert run("produce", path, "--ids", "5")["sent"] == 5
    assert run("plan", path)["stream_exists"] is True
    assert "skipped" in run("rebalance", path, "--dry-run")
    assert run("dead-letters", path)["waiting"] == 0


DRIVER = """\
import sys, time
from pathlib import Path
go = Path(sys.argv[1]) / "go"
print("ready", flush=True)
while not go.exists():
    time.sleep(0.05)
line = 0
for burst in range(45):  # 4.5 MB at 1 MB/s: four rotations of a 1 MiB log, 3 files kept
    for _ in range(1000):
        sys.stdout.write(("line %08d " % line).ljust(99, "x") + "\\n")
        line += 1
    sys.stdout.flush()
    time.sleep(0.1)
print("done", flush=True)
"""


def test_logs_follow_keeps_printing_across_rotations_of_a_driver_log(
    local_aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A driver started by the local launcher with the spec's driver_log (1 MiB, 3 kept) writes
    4.5 MB while `logs --follow` runs: every line comes out once, in order, across four rotations
    (the first file deleted meanwhile), and the follow ends with the driver. Then status and stop,
    by their exit codes."""
    name = f"cli_logs_{uuid.uuid4().hex[:6]}"
    path = embedded_spec(tmp_path, name)
    spec = load_spec(path)
    backends = operations.backends_for(spec)
    control = tmp_path / "control"
    config = driver_config(spec, receiver_plan(spec, 1), backends.connection, "gen-test", str(control))
    record = LocalProcessLauncher(spec.driver_log).submit(
        SubmitRequest(
            pipeline=name, generation="gen-test", argv=[sys.executable, "-c", DRIVER, str(control)], env={},
            control_dir=str(control), files_dir=str(control), files={JOB_FILE: config.model_dump_json()},
            ui_port=9, receivers=1, cores=2, checkpoint_dir=str(tmp_path / "cp"),
        )
    )  # fmt: skip
    backends.store.save_driver(record)
    follow = subprocess.Popen(
        [sys.executable, "-m", "kinesis_pipelines.cli", "logs", str(path), "--follow", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        for first in follow.stdout:
            if first.strip() == "ready":
                break
        (control / "go").touch()
        out, err = follow.communicate(timeout=120)
    finally:
        follow.kill()
    assert follow.returncode == 0, err
    numbers = [int(line.split()[1]) for line in out.splitlines() if line.startswith("line ")]
    assert numbers == list(range(45_000)), f"lines lost or repeated across rotations: {err[-2000:]}"
    assert out.splitlines()[-1] == "done" and "the driver is no longer running" in err
    log = Path(record.log_location)
    assert len(rotated_files(log)) == 3 and not log.with_name("driver.log.4").exists()
    assert all(p.stat().st_size <= 1024 * 1024 for p in [log, *rotated_files(log)])

    assert main(["logs", str(path), "--json", "-n", "2"]) == 0
    shown = one_object(capsys.readouterr().out)
    assert shown["lines"][-1] == "done" and len(shown["lines"]) == 2
    assert shown["files"] == [f"{log}.3", f"{log}.2", f"{log}.1", str(log)]
    # the driver exited 0 while its intent is still "running": not healthy (3)
    assert main(["status", str(path), "--json"]) == ExitCode.UNHEALTHY
    assert one_object(capsys.readouterr().out)["health"] == "stopped"
    assert main(["stop", str(path), "--json"]) == 0
    assert one_object(capsys.readouterr().out)["driver"]["state"] == "FINISHED"
    assert main(["status", str(path)]) == ExitCode.NOT_RUNNING  # stopped on request
    said = capsys.readouterr()
    assert "STOPPED" in said.out and "status exits 4" in said.err
