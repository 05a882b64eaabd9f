"""A roll back to a generation the pipeline left earlier never recovers that generation's old
checkpoint; a relaunch within the same roll recovers what the roll's own driver wrote."""

from __future__ import annotations

import json
from pathlib import Path

from kinesis_pipelines.app import control
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.app.receiver_app import SUPERSEDED_MARKER_PREFIX, set_aside_superseded
from kinesis_pipelines.app.storage import LocalFiles
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.launch.base import SubmitRequest
from kinesis_pipelines.launch.submit import superseding


def test_an_old_checkpoint_is_set_aside_once_per_roll_and_the_rolls_own_is_kept(tmp_path: Path) -> None:
    checkpoint = tmp_path / "gen-abc"
    (checkpoint / "receivedBlockMetadata").mkdir(parents=True)
    (checkpoint / "checkpoint-1000").write_text("left behind when the pipeline rolled away")
    files = LocalFiles()

    aside = set_aside_superseded(files, str(checkpoint), "gen-abc", before_ms=5_000)

    assert aside == f"{checkpoint}.superseded-5000"
    assert (Path(aside) / "checkpoint-1000").exists()
    assert sorted(p.name for p in checkpoint.iterdir()) == [f"{SUPERSEDED_MARKER_PREFIX}5000"]
    # the roll's driver writes its checkpoint, dies and is launched again with the same job file
    (checkpoint / "checkpoint-6000").write_text("this roll's")
    assert set_aside_superseded(files, str(checkpoint), "gen-abc", before_ms=5_000) is None
    assert (checkpoint / "checkpoint-6000").exists()
    # a later roll back to this generation sets that one aside in turn
    assert set_aside_superseded(files, str(checkpoint), "gen-abc", before_ms=9_000) is not None
    assert not (checkpoint / "checkpoint-6000").exists()


def test_a_generation_without_a_checkpoint_just_gets_its_marker(tmp_path: Path) -> None:
    checkpoint = tmp_path / "gen-new"
    assert set_aside_superseded(LocalFiles(), str(checkpoint), "gen-new", before_ms=1) is None
    assert [p.name for p in checkpoint.iterdir()] == [f"{SUPERSEDED_MARKER_PREFIX}1"]


def test_superseding_tells_only_the_job_file() -> None:
    config = DriverConfig(
        pipeline="p", application_name="app-p", stream_name="s-p", kinesis_endpoint="https://k",
        region="us-east-1", initial_position="TRIM_HORIZON", kcl_checkpoint_interval_seconds=1.0,
        storage_level="MEMORY_AND_DISK_2", receivers=1, batch_interval_seconds=2.0,
        dedupe_window_seconds=120.0, ledger_dir="l", checkpoint_dir="cp", generation="gen-abc",
        control_dir="c", processor="m:f", sink_path="out", dead_letter_path="dl",
        connection=AwsConnection(region="us-east-1"),
    )  # fmt: skip
    request = SubmitRequest(
        pipeline="p", generation="gen-abc", argv=["spark-submit"], env={}, control_dir="c", files_dir="f",
        files={control.JOB_FILE: config.model_dump_json(), "other": "x"},
        ui_port=4040, receivers=1, cores=2, checkpoint_dir="cp",
    )  # fmt: skip
    told = superseding(request, 42)
    assert json.loads(told.files[control.JOB_FILE])["superseded_before_ms"] == 42
    assert told.files["other"] == "x" and told.generation == request.generation
    assert json.loads(request.files[control.JOB_FILE])["superseded_before_ms"] is None
