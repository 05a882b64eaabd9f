"""A supervision pass's figures as the health sensor records them: lag one number per shard, an
unmeasured lag left out and said in words, the Spark UI a link."""

from __future__ import annotations

import dagster as dg

from kinesis_pipelines.launch import DriverRecord, DriverState, DriverStatus
from kinesis_pipelines.operations.monitoring import LagReading
from kinesis_pipelines.operations.supervise import DriverLook, Look
from kinesis_pipelines.orchestration.metadata import for_the_ui, look_metadata
from kinesis_pipelines.planning.health import Health, HealthVerdict, Observation
from kinesis_pipelines.state import SupervisorMemory

NOW = 1_800_000_000.0


def a_look(lag: LagReading, batches: list[dict[str, object]]) -> Look:
    record = DriverRecord(
        backend="local", driver_id="local-1", pipeline="orders", generation="gen-a", control_dir="c",
        log_location="l", ui_url="http://127.0.0.1:4040", submitted_at=NOW - 100, receivers=2, cores=3,
    )  # fmt: skip
    verdict = HealthVerdict(
        health=Health.HEALTHY, reason="batches completing", progress_at=NOW, completed_batches=7
    )
    driver = DriverLook(
        record=record,
        status=DriverStatus(state=DriverState.RUNNING, attempt=2, relaunched_at=[NOW - 40]),
        observation=Observation(
            deployed=True, running=True, receivers=2, active_receivers=2, completed_batches=7
        ),
        stats={"avgInputRate": 12.345},
        driver_key="local-1#attempt-2",
        started_at=NOW - 40,
        memory=SupervisorMemory(),
        verdict=verdict,
    )
    memory = SupervisorMemory(observed_at=NOW, dead_lettered=3)
    return Look(
        memory=memory, verdict=verdict, driver=driver, lag=lag, batches=batches,
        reading_at=NOW - 25, restarts_in_window=1,
    )  # fmt: skip


def test_lag_is_one_number_per_shard_and_the_driver_is_described() -> None:
    batch = {"batchTime": "2027-01-15T08:00:00.000GMT", "inputSize": 50, "processingTime": 300}
    metadata = look_metadata(a_look(LagReading(per_shard={"shardId-1": 900, "shardId-0": 100}), [batch]))
    assert metadata["lag_ms/shardId-0"] == 100 and metadata["lag_ms/shardId-1"] == 900
    assert metadata["max_lag_ms"] == 900 and metadata["lag"] == "measured"
    assert (metadata["receivers"], metadata["active_receivers"], metadata["cores"]) == (2, 2, 3)
    assert metadata["input_rate_records_per_s"] == 12.35
    assert metadata["restarts_in_window"] == 1 and metadata["dead_lettered"] == 3
    assert metadata["driver_attempt"] == 2 and metadata["generation"] == "gen-a"
    assert metadata["start_to_first_new_records_seconds"] == 15.0
    assert metadata["last_batch_records"] == 50
    shaped = for_the_ui(metadata)
    assert shaped["spark_ui"] == dg.MetadataValue.url("http://127.0.0.1:4040")
    assert isinstance(shaped["last_batch_time"], dg.TimestampMetadataValue)


def test_an_unmeasured_lag_is_not_plotted_as_zero() -> None:
    metadata = look_metadata(a_look(LagReading(unmeasured="the stream did not answer"), []))
    assert "max_lag_ms" not in metadata
    assert metadata["lag"] == "unknown: the stream did not answer"
    assert "last_batch_time" not in metadata
