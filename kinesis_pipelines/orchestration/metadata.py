"""The figures of a supervision pass, shaped as the health sensor records them in Dagster."""

from __future__ import annotations

from typing import Any

import dagster as dg

from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.operations.supervise import Look


def look_metadata(look: Look) -> dict[str, object]:
    """A supervision pass's figures as the health sensor records them: flat numbers, one per shard
    for lag, so that Dagster plots each over time; plain values (`for_the_ui` makes the link and
    the batch time Dagster's own kinds)."""
    verdict, memory, reading, batches = look.verdict, look.memory, look.lag, look.batches
    restarts_in_window, reading_at = look.restarts_in_window, look.reading_at
    now = memory.observed_at or 0.0
    driver = look.driver
    record = driver.record if driver else None
    status = driver.status if driver else None
    observation = driver.observation if driver else None
    stats = driver.stats if driver else {}
    active_receivers = observation.active_receivers if observation else 0
    newest = monitoring.newest_batch(batches)
    metadata: dict[str, object] = {
        "health": verdict.health.value,
        "reason": verdict.reason,
        "failure": memory.failure or "-",
        "receivers": record.receivers if record else 0,
        "active_receivers": active_receivers,
        "cores": record.cores if record else 0,
        "input_rate_records_per_s": round(float(stats.get("avgInputRate", 0.0) or 0.0), 2),
        "avg_scheduling_delay_ms": stats.get("avgSchedulingDelay", 0) or 0,
        "avg_processing_ms": stats.get("avgProcessingTime", 0) or 0,
        "completed_batches": verdict.completed_batches,
        # an unmeasured lag is left out (not plotted as 0) and said in words
        **({"max_lag_ms": max(reading.per_shard.values(), default=0)} if reading.unmeasured is None else {}),
        "lag": f"unknown: {reading.unmeasured}" if reading.unmeasured else "measured",
        **{f"lag_ms/{shard}": behind for shard, behind in sorted(reading.per_shard.items())},
        "restarts_in_window": restarts_in_window,
        # plotted: records the job could not process, and those not replayed yet
        "dead_lettered": memory.dead_lettered,
        "dead_letters_waiting": memory.dead_letters_waiting,
    }
    if driver is not None and record is not None:
        if driver.observation.running and newest is not None:
            metadata["last_batch_time"] = newest[0]  # epoch seconds
            metadata["last_batch_age_seconds"] = round(max(0.0, now - newest[0]), 1)
            metadata["last_batch_records"] = newest[1]
            metadata["last_batch_processing_ms"] = batches[0].get("processingTime") or 0
            metadata["last_batch_scheduling_delay_ms"] = batches[0].get("schedulingDelay") or 0
        metadata["reading_new_records"] = reading_at is not None
        if reading_at is not None:
            # a restart's recovery as it matters: from the driver's start to its first new records
            metadata["start_to_first_new_records_seconds"] = round(
                max(0.0, reading_at - driver.started_at), 1
            )
        metadata["generation"] = record.generation
        metadata["driver_attempt"] = status.attempt if status else 1
        metadata["spark_ui"] = record.ui_url
    return metadata


def for_the_ui(metadata: dict[str, object]) -> dict[str, Any]:
    """The Spark UI as a link and the last batch's time as a timestamp, in Dagster's own kinds."""
    shaped: dict[str, Any] = {**metadata}
    if "spark_ui" in shaped:
        shaped["spark_ui"] = dg.MetadataValue.url(str(shaped["spark_ui"]))
    if "last_batch_time" in shaped:
        shaped["last_batch_time"] = dg.MetadataValue.timestamp(float(str(shaped["last_batch_time"])))
    return shaped
