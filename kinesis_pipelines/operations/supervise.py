"""Supervision of one pipeline: observe the job, decide (pure planning code), record.

`supervise` is what the health sensor runs every few seconds: one look through the backends,
one decision from `planning/health.py` and `planning/restarts.py`, and the supervisor's memory
saved for the next look; the figures Dagster records are shaped in `orchestration/metadata.py`.
It never restarts anything itself and never counts a restart: the restart run does, once a driver
was actually replaced. `check_results` only reads."""

from __future__ import annotations

import time
import zlib
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch import DriverRecord, DriverState, DriverStatus
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.operations.backends import Backends
from kinesis_pipelines.operations.dead_letters import dead_letter_counts
from kinesis_pipelines.planning.health import (
    RETRYABLE,
    Health,
    HealthVerdict,
    LagHealth,
    Observation,
    classify,
    classify_failure,
    classify_lag,
    first_new_input,
    output_freshness,
)
from kinesis_pipelines.planning.restarts import RestartDecision, decide_restart, in_window
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import SupervisorMemory

# A restart asked for and not yet done is not asked for again for this long (a deploy can take
# a graceful stop plus a start); after it, a new request is made.
RESTART_REQUEST_PATIENCE_SECONDS = 300.0
# The cost of a look, bounded for a fleet. Lag needs the stream's tip (GetShardIterator and
# GetRecords per shard, which count against the consumer's 5 reads/s per shard): read at most this
# often, the last measurement standing in between. An observation is recorded in Dagster when
# what it says changes, and otherwise at most this often.
LAG_REFRESH_SECONDS = 60.0
RECORD_EVERY_SECONDS = 60.0


class OutputReport(BaseModel):
    """Batches completed since the output asset was last materialized."""

    last_batch_time: float
    completed_batches: int


class DriverLook(BaseModel):
    """One look at the current driver: what the backend and Spark's monitoring API say of it, and
    the health that follows (the supervisor's memory carried over when it is the same driver)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    record: DriverRecord | None
    status: DriverStatus | None
    observation: Observation
    stats: dict[str, Any]
    driver_key: str | None  # the driver and its attempt: a relaunch in place is a new driver
    started_at: float  # its submit, or its last relaunch
    memory: SupervisorMemory  # the supervisor's memory, reset for a new driver
    verdict: HealthVerdict


class Look(BaseModel):
    """The result of one supervision pass."""

    memory: SupervisorMemory
    verdict: HealthVerdict
    decision: RestartDecision | None = None
    request_restart: bool = False
    driver_id: str | None = None
    restarts_in_window: int = 0
    # what the pass saw, for the figures the health sensor records (orchestration/metadata.py)
    driver: DriverLook | None = None
    lag: monitoring.LagReading = monitoring.LagReading()
    batches: list[dict[str, Any]] = []  # the driver's completed batches, newest first
    reading_at: float | None = None  # when the driver first read new records
    # set when the output asset is due a materialization: batches completed since the last one
    output_report: OutputReport | None = None
    record: bool = True  # record this look in Dagster (something changed, or it is time again)


def observe(
    spec: PipelineSpec, backends: Backends
) -> tuple[DriverRecord | None, DriverStatus | None, Observation, dict[str, Any]]:
    """The current driver, its status, what its monitoring API says, and its statistics."""
    backends.store.prefetch("driver", "intent", "restarts")  # one round trip for the look
    record = backends.store.driver()
    stop_requested = backends.store.stop_requested()
    if record is None:
        return None, None, Observation(deployed=False, running=False, stop_requested=stop_requested), {}
    status = backends.launcher.status(record)
    running = status.state is DriverState.RUNNING
    stats = (monitoring.streaming_statistics(backends.launcher, record) if running else None) or {}
    tasks = monitoring.executor_tasks(backends.launcher, record) if running else None
    observation = Observation(
        deployed=True,
        running=running,
        stop_requested=stop_requested,
        exit_code=status.exit_code,
        stopped_on_purpose=status.state is DriverState.FINISHED,
        api_responding=bool(stats),
        receivers=record.receivers,
        active_receivers=stats.get("numActiveReceivers", 0),
        completed_batches=stats.get("numTotalCompletedBatches", 0),
        completed_tasks=tasks.completed if tasks else None,
        running_tasks=max(0, tasks.active - record.receivers) if tasks else 0,
    )
    return record, status, observation, stats


def look_at_driver(
    spec: PipelineSpec, backends: Backends, memory: SupervisorMemory, now: float
) -> DriverLook:
    """Observe the driver and classify its health (the first two steps of a supervision pass,
    and all that `status` needs of one)."""
    record, status, observation, stats = observe(spec, backends)
    driver_key = _driver_key(record, status)
    if record is not None and driver_key != memory.driver_id:
        # a new driver: its batches count from zero, its progress from its start
        memory = memory.model_copy(
            update={"driver_id": driver_key, "previous_batches": 0, "previous_tasks": 0,
                    "progress_at": None, "failure": None, "reading_at": None}
        )  # fmt: skip
    started_at = now
    if record is not None:
        started_at = max([record.submitted_at, *(status.relaunched_at if status else [])])
    verdict = classify(
        observation,
        now=now,
        previous_batches=memory.previous_batches,
        progress_at=memory.progress_at,
        batch_interval_seconds=spec.job.batch_interval_seconds,
        stall_batches=spec.supervision.stall_batches,
        startup_grace_seconds=spec.supervision.startup_grace_seconds,
        task_stall_seconds=spec.supervision.task_stall_seconds,
        started_at=started_at,
        previous_tasks=memory.previous_tasks,
    )
    return DriverLook(
        record=record,
        status=status,
        observation=observation,
        stats=stats,
        driver_key=driver_key,
        started_at=started_at,
        memory=memory,
        verdict=verdict,
    )


def lag_per_shard(backends: Backends) -> dict[str, int]:
    """Milliseconds each open shard's checkpoint is behind its newest record, for the shards that
    could be measured (`monitoring.measure_lag` says which could not, and why)."""
    return monitoring.measure_lag(backends.app_table, backends.stream).per_shard


def restart_times(backends: Backends, status: DriverStatus | None) -> list[float]:
    """The supervisor's restarts and the backend's own relaunches of the current driver: both
    spend the same budget."""
    return sorted([*backends.store.restarts().times, *(status.relaunched_at if status else [])])


def restarts_in_window(spec: PipelineSpec, backends: Backends, now: float) -> list[float]:
    record = backends.store.driver()
    status = backends.launcher.status(record) if record is not None else None
    return in_window(restart_times(backends, status), now, spec.supervision.restart.window_seconds)


class RestartStep(BaseModel):
    """The decision step of a pass: whether to ask for a restart, and what the memory keeps of it."""

    decision: RestartDecision | None = None
    request: bool = False
    failure: str | None = None
    gave_up: str | None = None
    requested_for: str | None = None
    requested_at: float | None = None


def decide(
    spec: PipelineSpec, backends: Backends, look: DriverLook, restarts: list[float], now: float
) -> RestartStep:
    """Restart or not (planning/restarts.py), a failure's kind from the driver's log, and a
    request not made twice while the first is pending."""
    memory, record, verdict = look.memory, look.record, look.verdict
    step = RestartStep(
        failure=memory.failure,
        gave_up=memory.gave_up,
        requested_for=memory.restart_requested_for,
        requested_at=memory.restart_requested_at,
    )
    if verdict.health in (Health.FAILED, Health.STALLED) and spec.supervision.enabled:
        kind = None
        if verdict.health is Health.FAILED and record is not None:
            kind = classify_failure(look.observation.exit_code, backends.launcher.logs(record))
            step.failure = kind.value
        decision = decide_restart(
            spec.supervision.restart,
            restarts,
            now,
            memory.healthy_since,
            retryable=kind is None or kind in RETRYABLE,
        )
        step.decision = decision
        step.gave_up = None if decision.restart or decision.wait_seconds > 0 else decision.reason
        # keyed by the attempt: a request for an attempt YARN has since replaced does not stand
        # for the next one
        pending = (
            record is not None
            and step.requested_for == look.driver_key
            and step.requested_at is not None
            and now - step.requested_at < RESTART_REQUEST_PATIENCE_SECONDS
        )
        step.request = decision.restart and not pending
        if step.request and record is not None:
            step.requested_for, step.requested_at = look.driver_key, now
    elif verdict.health is Health.HEALTHY:
        # healthy again: a request made before stands for nothing now (the restart run finds the
        # driver it was asked to replace healthy, or gone)
        step.gave_up, step.requested_for, step.requested_at = None, None, None
    return step


def supervise(spec: PipelineSpec, backends: Backends, now: float | None = None) -> Look:
    """One pass: observe, classify, decide, record (the memory for the next pass, and whether
    Dagster should record this one)."""
    now = time.time() if now is None else now
    look = look_at_driver(spec, backends, backends.store.supervisor(), now)
    memory, record, status, verdict = look.memory, look.record, look.status, look.verdict
    observation = look.observation
    batches = (
        monitoring.completed_batches(backends.launcher, record) if record and observation.running else []
    )
    reading_at = memory.reading_at or first_new_input(monitoring.batch_inputs(batches), look.started_at)
    newest = monitoring.newest_batch(batches)
    if verdict.health is Health.HEALTHY and reading_at is None:
        verdict = verdict.model_copy(
            update={
                "reason": f"{verdict.reason}; no new record read since the driver started (an idle "
                "stream, or KCL's first read, about 10 s after it takes its leases)"
            }
        )
    lag_due = memory.lag_measured_at is None or now - memory.lag_measured_at >= LAG_REFRESH_SECONDS
    measure_lag = observation.running and lag_due
    if measure_lag:
        reading = monitoring.measure_lag(backends.app_table, backends.stream)
    else:
        reading = monitoring.LagReading.from_memory(memory)
    dead = _dead_letters(spec, backends, memory) if lag_due else None
    restarts = restart_times(backends, status)
    step = decide(spec, backends, look, restarts, now)
    new_memory = memory.model_copy(
        update={
            "previous_batches": verdict.completed_batches,
            "previous_tasks": verdict.completed_tasks,
            "progress_at": verdict.progress_at,
            "healthy_since": (memory.healthy_since or now) if verdict.health is Health.HEALTHY else None,
            "health": verdict.health.value,
            "reason": verdict.reason,
            "failure": step.failure,
            "gave_up": step.gave_up,
            **reading.to_memory(),
            "observed_at": now,
            "restart_requested_for": step.requested_for,
            "restart_requested_at": step.requested_at,
            "reading_at": reading_at,
            "lag_measured_at": _lag_measured_at(spec, memory, now) if measure_lag else memory.lag_measured_at,
            **(dead or {}),
        }
    )
    counted = len(in_window(restarts, now, spec.supervision.restart.window_seconds))
    signature = _signature(spec, new_memory, verdict.health.value, observation.active_receivers, counted)
    record_now = (
        signature != memory.recorded_signature
        or memory.recorded_at is None
        or now - memory.recorded_at >= RECORD_EVERY_SECONDS
        or step.request
    )
    if record_now:
        new_memory = new_memory.model_copy(update={"recorded_at": now, "recorded_signature": signature})
    output_report = None
    freshness = output_freshness(spec.job.batch_interval_seconds, spec.supervision.stall_batches)
    if (
        newest is not None
        and newest[0] != memory.output_batch_time
        and (
            memory.output_reported_at is None
            or now - memory.output_reported_at >= freshness.report_every_seconds
        )
    ):
        output_report = OutputReport(last_batch_time=newest[0], completed_batches=verdict.completed_batches)
        new_memory = new_memory.model_copy(update={"output_reported_at": now, "output_batch_time": newest[0]})
    backends.store.save_supervisor(new_memory)
    return Look(
        memory=new_memory,
        verdict=verdict,
        decision=step.decision,
        request_restart=step.request,
        driver_id=record.driver_id if record else None,
        restarts_in_window=counted,
        driver=look,
        lag=reading,
        batches=batches,
        reading_at=reading_at,
        output_report=output_report,
        record=record_now,
    )


def _dead_letters(spec: PipelineSpec, backends: Backends, memory: SupervisorMemory) -> dict[str, int] | None:
    """The dead-letter counts, read with the lag (once a minute); None keeps the last ones when the
    files cannot be read (the next look tries again)."""
    try:
        counts = dead_letter_counts(spec, backends)
    except (OSError, ValueError, KinesisPipelinesError):
        return None
    return {"dead_lettered": counts.dead_lettered, "dead_letters_waiting": counts.waiting}


def _lag_measured_at(spec: PipelineSpec, memory: SupervisorMemory, now: float) -> float:
    """When this measurement counts as taken. The first is back-dated by a fixed share of the
    refresh period, from the pipeline's name, so a fleet started together spreads its reads of
    the streams' tips over the period instead of making them all in the same tick."""
    if memory.lag_measured_at is not None:
        return now
    return now - (zlib.crc32(spec.name.encode()) % 1000) / 1000 * LAG_REFRESH_SECONDS


def _signature(
    spec: PipelineSpec, memory: SupervisorMemory, health: str, active_receivers: int, restarts: int
) -> str:
    """What a recorded observation must change for: health, receivers, restarts, each check's
    outcome, and lag by the tenth of its limit (so a plot still follows a trend)."""
    checks = check_results(spec, memory, restarts)
    step = max(1.0, spec.supervision.lag_limit_seconds * 100)  # ms: a tenth of the limit
    lag = {shard: int(ms // step) for shard, ms in sorted(memory.lag_ms_per_shard.items())}
    passed = {name: outcome[0] for name, outcome in checks.items()}
    return f"{health}|{active_receivers}|{restarts}|{passed}|{lag}|{memory.failure}"


def _driver_key(record: DriverRecord | None, status: DriverStatus | None) -> str | None:
    if record is None:
        return None
    attempt = status.attempt if status else 1
    return record.driver_id if attempt == 1 else f"{record.driver_id}#attempt-{attempt}"


CheckOutcome = tuple[bool, str, dict[str, Any]]  # passed, severity if failed (WARN/ERROR), metadata


def check_results(
    spec: PipelineSpec, memory: SupervisorMemory, restarts_in_window: int
) -> dict[str, CheckOutcome]:
    """Each asset check's outcome from the supervisor's last look. Pure.

    Severities say what an operator must do: lag over the limit is a WARN (the job runs and may
    catch up, or a rebalance adds capacity), and so is a lag that could not be measured (it does
    not pass: an unread lag is not a small one); a failed job and a spent restart budget are ERRORs
    (the supervisor will not fix them on its own); a stall is a WARN while a restart is pending."""
    limit_ms = spec.supervision.lag_limit_seconds * 1000
    reading = monitoring.LagReading.from_memory(memory)
    lag = classify_lag(reading.per_shard, limit_ms, reading.unmeasured)
    budget = spec.supervision.restart.budget
    per_shard = {f"lag_ms/{shard}": ms for shard, ms in sorted(reading.per_shard.items())}
    healthy_severity = "ERROR" if memory.health == "failed" or memory.gave_up else "WARN"
    return {
        "job_healthy": (
            memory.health in ("healthy", "stopped"),
            healthy_severity,
            {"health": memory.health, "reason": memory.reason, "failure": memory.failure or "-",
             "observed_at": memory.observed_at or 0},
        ),
        "lag_under_limit": (
            lag.health is LagHealth.WITHIN,
            "WARN",
            {"lag": lag.health.value, "reason": lag.reason, "limit_ms": limit_ms, **per_shard,
             **({"max_lag_ms": lag.worst_ms} if lag.worst_ms is not None else {})},
        ),
        "no_dead_letters_waiting": (
            memory.dead_letters_waiting == 0,
            "WARN",
            {"dead_letters_waiting": memory.dead_letters_waiting, "dead_lettered": memory.dead_lettered,
             "reason": (f"{memory.dead_letters_waiting} record(s) the job could not process wait in "
                        f"the dead-letter location: `kinesis-pipelines dead-letters` lists them, "
                        "--replay puts them back once the cause is fixed")
                       if memory.dead_letters_waiting else ""},
        ),
        "restarts_within_budget": (
            memory.gave_up is None and restarts_in_window <= budget,
            "ERROR",
            {"restarts_in_window": restarts_in_window, "budget": budget,
             "gave_up": memory.gave_up or "-"},
        ),
    }  # fmt: skip
