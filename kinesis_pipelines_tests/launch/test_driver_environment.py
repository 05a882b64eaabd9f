"""What a driver finds in its environment: never the orchestrator's own secrets."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from kinesis_pipelines.app.control import JOB_FILE
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.launch import LocalProcessLauncher, SubmitRequest
from kinesis_pipelines.launch.local import LOG_FILE
from kinesis_pipelines.launch.submit import driver_config
from kinesis_pipelines.operations.roll import receiver_plan
from kinesis_pipelines_tests.e2e.helpers import make_spec

PRINT_ENVIRONMENT = "import os; print(sorted(os.environ))"


def test_a_local_driver_gets_neither_dagsters_settings_nor_its_database_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver started from a production code server (deploy/) would otherwise inherit the
    instance's database password from the unit's secrets file."""
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "s3cret-of-the-instance")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("KP_KEPT_FOR_THE_DRIVER", "1")
    control = tmp_path / "control"
    spec = make_spec("env", shards=1)
    config = driver_config(
        spec, receiver_plan(spec, 1), AwsConnection(region="eu-west-1"), "gen-env", str(control)
    )
    launcher = LocalProcessLauncher()
    record = launcher.submit(
        SubmitRequest(
            pipeline="env", generation="gen-env", argv=[sys.executable, "-c", PRINT_ENVIRONMENT],
            env={"FROM_THE_REQUEST": "1"}, control_dir=str(control), files_dir=str(control),
            files={JOB_FILE: config.model_dump_json()},
            ui_port=9, receivers=1, cores=2, checkpoint_dir=str(tmp_path / "cp"),
        )
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while launcher.status(record).state.value == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    printed = (control / LOG_FILE).read_text()
    assert "KP_KEPT_FOR_THE_DRIVER" in printed and "FROM_THE_REQUEST" in printed, printed
    assert "DAGSTER_" not in printed and "s3cret" not in printed, printed
