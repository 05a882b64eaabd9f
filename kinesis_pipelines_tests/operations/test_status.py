"""The operator's status text: the facts an operator acts on, one per line."""

from __future__ import annotations

from kinesis_pipelines.operations.status import LastBatch, PipelineStatus, render_status


def test_a_running_pipeline_reads_as_an_operator_needs_it() -> None:
    status = PipelineStatus(
        pipeline="orders", deployed=True, state="RUNNING", health="healthy", reason="batches advance",
        driver_id="local-123", attempt=1, receivers_planned=2, receivers_active=1, completed_batches=40,
        last_batch=LastBatch(batch_time=1_800_000_000, age_seconds=3.2, records=250, processing_ms=180,
                             scheduling_delay_ms=4),
        lag_ms_per_shard={"shardId-000000000000": 1_500, "shardId-000000000001": 400_000},
        lag_limit_ms=300_000, restarts_used=2, restart_budget=5, restart_window_seconds=3600,
        last_failure="aws_throttling", log="/var/log/orders.log", spark_ui="http://127.0.0.1:4040",
        driver_python="3.10.13", spark_version="3.3.0", observed_at=1_800_000_003,
    )  # fmt: skip
    text = render_status(status)
    assert "HEALTHY: batches advance" in text
    assert "1 of 2 active" in text
    assert "3 s ago: 250 records, processing 180 ms, scheduling delay 4 ms" in text
    assert "1.5 s behind the newest record\n" in text
    assert "400.0 s behind the newest record  OVER THE LIMIT" in text
    assert "2 used, 3 left in the last 1 h" in text
    assert (
        "last failure  aws_throttling" in text.replace("   ", " ").replace("  ", " ")
        or "aws_throttling" in text
    )
    assert "Spark 3.3.0 on Python 3.10.13" in text
    assert "/var/log/orders.log" in text and "http://127.0.0.1:4040" in text


def test_not_deployed_says_what_to_do() -> None:
    text = render_status(PipelineStatus(pipeline="orders", deployed=False, observed_at=0))
    assert text == "orders: not deployed (run `kinesis-pipelines deploy` on its spec)\n"


def test_an_unmeasured_lag_shows_as_unknown_with_its_reason() -> None:
    status = PipelineStatus(
        pipeline="orders", deployed=True, state="RUNNING", health="healthy", driver_id="local-1",
        lag_ms_per_shard={"shardId-000000000000": 1_500}, lag_limit_ms=300_000,
        lag_unknown="reading the newest record of s/shardId-000000000001 failed (ResourceNotFoundException)",
        observed_at=0,
    )  # fmt: skip
    text = render_status(status)
    assert "unknown: could not measure the lag: reading the newest record of s/shardId-000000000001" in text
    assert "1.5 s behind the newest record" in text  # what was measured is still shown
