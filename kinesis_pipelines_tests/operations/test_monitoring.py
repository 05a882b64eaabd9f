"""Reading Spark's monitoring API answers (pure parsing; the API itself is exercised end to end),
and measuring lag: a lag AWS would not give is unknown, never 0 (the embedded AWS for that)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from kinesis_pipelines.aws import make_client, resolve_connection
from kinesis_pipelines.aws.dynamodb import LEASE_KEY, AppTable
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.operations.monitoring import LagReading, batch_inputs, measure_lag
from kinesis_pipelines.operations.supervise import check_results
from kinesis_pipelines.state import SupervisorMemory
from kinesis_pipelines_tests.e2e.helpers import make_spec


def test_batch_times_and_input_sizes_are_read_and_bad_entries_skipped() -> None:
    batches: list[dict[str, Any]] = [
        {"batchTime": "2026-11-28T03:50:06.000GMT", "inputSize": 40},
        {"batchTime": "not a time", "inputSize": 9},
        {"inputSize": 3},
    ]
    moment = datetime(2026, 11, 28, 3, 50, 6, tzinfo=timezone.utc).timestamp()
    assert batch_inputs(batches) == [(moment, 40)]


def test_an_unmeasured_lag_survives_the_supervisors_memory() -> None:
    reading = LagReading(per_shard={"shardId-0": 40}, unmeasured="Kinesis is unreachable")
    memory = SupervisorMemory().model_copy(update=reading.to_memory())
    assert (memory.lag_ms_per_shard, memory.lag_unknown) == ({"shardId-0": 40}, "Kinesis is unreachable")
    assert LagReading.from_memory(memory) == reading
    measured = SupervisorMemory(lag_ms_per_shard={"shardId-0": 40})
    assert LagReading.from_memory(measured) == LagReading(per_shard={"shardId-0": 40})


def test_the_lag_check_does_not_pass_when_the_lag_could_not_be_measured() -> None:
    spec = make_spec("lag_check", shards=1)
    unknown = SupervisorMemory(lag_unknown="Kinesis is unreachable")
    passed, severity, metadata = check_results(spec, unknown, 0)["lag_under_limit"]
    assert not passed and severity == "WARN"
    assert (
        metadata["lag"] == "unknown"
        and "could not measure the lag: Kinesis is unreachable" in metadata["reason"]
    )
    assert "max_lag_ms" not in metadata  # not a lag of 0
    measured = SupervisorMemory(lag_ms_per_shard={"shardId-0": 40})
    passed, _, metadata = check_results(spec, measured, 0)["lag_under_limit"]
    assert passed and metadata["max_lag_ms"] == 40 and metadata["lag_ms/shardId-0"] == 40


def test_a_lag_that_aws_will_not_give_is_unknown_not_zero(local_aws: Any) -> None:
    """Against the embedded AWS: the lease table holds a checkpoint, the stream is deleted under
    it. Measuring reads an error, says so, and reports no lag of 0."""
    spec = make_spec(f"lag_gone_{uuid.uuid4().hex[:8]}", shards=1)
    connection = resolve_connection(spec)
    stream = KinesisStream(make_client("kinesis", connection), spec.stream.name, shards=1)
    shard = stream.ensure_stream().open_shards[0]
    table = AppTable(make_client("dynamodb", connection), spec.app_table.application_name)
    table.ensure_table([shard], lambda _shard: None)
    table.client.put_item(
        TableName=table.application_name,
        Item={LEASE_KEY: {"S": shard}, "checkpoint": {"S": "TRIM_HORIZON"}, "leaseCounter": {"N": "1"}},
    )
    assert measure_lag(table, stream).unmeasured is None  # readable: measured
    stream.client.delete_stream(StreamName=spec.stream.name)
    deadline = time.monotonic() + 30
    while stream.describe() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    reading = measure_lag(table, stream)
    assert reading.per_shard == {}
    assert reading.unmeasured is not None and shard in reading.unmeasured
    assert "ResourceNotFoundException" in reading.unmeasured
