"""What an operator asks of a pipeline: is it healthy, is it keeping up, where are its logs.

`pipeline_status` only reads (the driver's backend, its monitoring API, the lease table, the
supervisor's last look); it never records anything, so running it beside the health sensor changes
nothing. `render_status` is the text the CLI prints; `--json` prints the model itself."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch import DriverState
from kinesis_pipelines.launch.submit import dead_letter_path
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.operations.backends import Backends
from kinesis_pipelines.operations.dead_letters import DeadLetterCounts, dead_letter_counts
from kinesis_pipelines.operations.supervise import look_at_driver, restart_times
from kinesis_pipelines.planning.health import LagHealth, classify_failure, classify_lag
from kinesis_pipelines.planning.restarts import in_window
from kinesis_pipelines.spec import PipelineSpec


class LastBatch(BaseModel):
    batch_time: float  # epoch seconds
    age_seconds: float
    records: int
    processing_ms: int | None
    scheduling_delay_ms: int | None


class PipelineStatus(BaseModel):
    pipeline: str
    deployed: bool
    state: str = "not_deployed"  # the backend's: running, finished, failed, ...
    intent: str = "running"  # what the operator last asked for
    health: str = "not_deployed"
    reason: str = ""
    driver_id: str | None = None
    generation: str | None = None
    attempt: int = 1
    receivers_planned: int = 0
    receivers_active: int = 0
    completed_batches: int = 0
    last_batch: LastBatch | None = None
    input_rate_records_per_s: float = 0.0
    lag_ms_per_shard: dict[str, int] = {}  # the shards whose lag could be measured
    lag_unknown: str | None = None  # why the lag (of some shard) could not be measured
    lag_limit_ms: float = 0.0
    dead_lettered: int | None = None  # records the job could not process (None: not readable)
    dead_letters_waiting: int | None = None  # of those, not replayed yet
    dead_letter_location: str | None = None
    restarts_used: int = 0
    restart_budget: int = 0
    restart_window_seconds: float = 0.0
    last_failure: str | None = None
    gave_up: str | None = None
    log: str | None = None
    spark_ui: str | None = None
    driver_python: str | None = None
    spark_version: str | None = None
    observed_at: float


def pipeline_status(spec: PipelineSpec, backends: Backends, now: float | None = None) -> PipelineStatus:
    now = time.time() if now is None else now
    policy = spec.supervision.restart
    base = {
        "pipeline": spec.name,
        "restart_budget": policy.budget,
        "restart_window_seconds": policy.window_seconds,
        "lag_limit_ms": spec.supervision.lag_limit_seconds * 1000,
        "observed_at": now,
    }
    look = look_at_driver(spec, backends, backends.store.supervisor(), now)
    record, status, observation, stats = look.record, look.status, look.observation, look.stats
    memory, verdict = look.memory, look.verdict
    intent = backends.store.intent()
    if record is None or status is None:
        return PipelineStatus(deployed=False, **base)
    running = status.state is DriverState.RUNNING
    batches = monitoring.completed_batches(backends.launcher, record) if running else []
    failure = memory.failure
    if status.state is DriverState.FAILED:
        failure = classify_failure(status.exit_code, backends.launcher.logs(record)).value
    used = len(in_window(restart_times(backends, status), now, policy.window_seconds))
    info = backends.launcher.driver_info(record)
    if running:
        lag = monitoring.measure_lag(backends.app_table, backends.stream)
    else:
        lag = monitoring.LagReading.from_memory(memory)
    dead = _dead_letters(spec, backends)
    return PipelineStatus(
        deployed=True,
        state=status.state.value,
        intent=intent.desired if intent else "running",
        health=verdict.health.value,
        reason=verdict.reason,
        driver_id=record.driver_id,
        generation=record.generation,
        attempt=status.attempt,
        receivers_planned=record.receivers,
        receivers_active=observation.active_receivers,
        completed_batches=verdict.completed_batches,
        last_batch=_last_batch(batches, now),
        input_rate_records_per_s=round(float(stats.get("avgInputRate", 0.0) or 0.0), 2),
        lag_ms_per_shard=lag.per_shard,
        lag_unknown=lag.unmeasured,
        dead_lettered=dead.dead_lettered if dead else None,
        dead_letters_waiting=dead.waiting if dead else None,
        dead_letter_location=dead_letter_path(spec),
        restarts_used=used,
        last_failure=failure,
        gave_up=memory.gave_up,
        log=record.log_location,
        spark_ui=record.ui_url if running else None,
        driver_python=info.python if info else None,
        spark_version=info.spark_version if info else None,
        **base,
    )


def _dead_letters(spec: PipelineSpec, backends: Backends) -> DeadLetterCounts | None:
    try:
        return dead_letter_counts(spec, backends)
    except (OSError, ValueError, KinesisPipelinesError):
        return None


def _last_batch(batches: list[dict[str, Any]], now: float) -> LastBatch | None:
    newest = monitoring.newest_batch(batches)
    if newest is None:
        return None
    batch_time, records = newest
    latest = batches[0]
    return LastBatch(
        batch_time=batch_time,
        age_seconds=round(max(0.0, now - batch_time), 1),
        records=records,
        processing_ms=latest.get("processingTime"),
        scheduling_delay_ms=latest.get("schedulingDelay"),
    )


def render_status(status: PipelineStatus) -> str:
    """The status as an operator reads it: one fact per line, the worst news first."""
    if not status.deployed:
        return f"{status.pipeline}: not deployed (run `kinesis-pipelines deploy` on its spec)\n"
    rows: list[tuple[str, str]] = [
        ("health", f"{status.health.upper()}: {status.reason}"),
        ("driver", f"{status.driver_id} ({status.state}, attempt {status.attempt}; wanted {status.intent})"),
        ("receivers", f"{status.receivers_active} of {status.receivers_planned} active"),
    ]
    if status.last_batch is not None:
        batch = status.last_batch
        when = datetime.fromtimestamp(batch.batch_time, timezone.utc).strftime("%H:%M:%S UTC")
        rows.append(
            (
                "last batch",
                f"{when}, {batch.age_seconds:.0f} s ago: {batch.records} records, processing "
                f"{_ms(batch.processing_ms)}, scheduling delay {_ms(batch.scheduling_delay_ms)}",
            )
        )
    else:
        rows.append(("last batch", "none completed yet"))
    rows.append(
        ("batches", f"{status.completed_batches} completed, {status.input_rate_records_per_s} records/s in")
    )
    rows.extend(_lag_rows(status))
    rows.append(("dead letters", _dead_letter_row(status)))
    left = max(0, status.restart_budget - status.restarts_used)
    hours = status.restart_window_seconds / 3600
    rows.append(("restarts", f"{status.restarts_used} used, {left} left in the last {hours:g} h"))
    if status.last_failure:
        rows.append(("last failure", status.last_failure))
    if status.gave_up:
        rows.append(("gave up", status.gave_up))
    if status.driver_python or status.spark_version:
        rows.append(
            ("runtime", f"Spark {status.spark_version or '?'} on Python {status.driver_python or '?'}")
        )
    rows.append(("log", f"{status.log}  (kinesis-pipelines logs SPEC [--follow])"))
    rows.append(("spark UI", status.spark_ui or "- (the driver is not running)"))
    width = max(len(label) for label, _ in rows)
    lines = [f"{status.pipeline}"] + [f"  {label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines) + "\n"


def _lag_rows(status: PipelineStatus) -> list[tuple[str, str]]:
    limit = status.lag_limit_ms
    verdict = classify_lag(status.lag_ms_per_shard, limit, status.lag_unknown)
    rows = []
    if verdict.health is LagHealth.UNKNOWN:
        rows.append(("lag", f"unknown: {verdict.reason}"))
    elif not status.lag_ms_per_shard:
        rows.append(("lag", "unknown (no lease checkpoints yet)"))
    for shard, lag in sorted(status.lag_ms_per_shard.items()):
        flag = "  OVER THE LIMIT" if lag > limit else ""
        rows.append((f"lag {shard}", f"{lag / 1000:.1f} s behind the newest record{flag}"))
    if status.lag_ms_per_shard or status.lag_unknown:
        rows.append(("lag limit", f"{limit / 1000:.0f} s per shard"))
    return rows


def _dead_letter_row(status: PipelineStatus) -> str:
    if status.dead_lettered is None or status.dead_letters_waiting is None:
        return f"unknown: {status.dead_letter_location} could not be read"
    if not status.dead_lettered:
        return "none"
    waiting = status.dead_letters_waiting
    advice = "  (kinesis-pipelines dead-letters SPEC [--replay])" if waiting else ""
    return f"{waiting} waiting, {status.dead_lettered} in all, in {status.dead_letter_location}{advice}"


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"
