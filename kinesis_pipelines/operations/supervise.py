"""Supervision of one pipeline: look at the job, classify it, decide on a restart.

`supervise` does one look (I/O through the resources) and one decision (pure planning code),
and persists the supervisor's memory in the pipeline's state folder, where the sensor, the asset
checks and the CLI all read it."""

import time
from pathlib import Path

from pydantic import BaseModel

from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch.base import DriverState
from kinesis_pipelines.launch.submit import pipeline_dir
from kinesis_pipelines.planning.health import (
    RETRYABLE,
    Health,
    HealthVerdict,
    Observation,
    classify,
    classify_failure,
)
from kinesis_pipelines.planning.restarts import RestartDecision, decide_restart
from kinesis_pipelines.resources.dynamodb import DynamoDBAppTableResource
from kinesis_pipelines.resources.kinesis import KinesisStreamResource
from kinesis_pipelines.resources.spark import SparkReceiverJobResource
from kinesis_pipelines.spec import PipelineSpec


class SupervisorState(BaseModel):
    driver_id: str | None = None
    previous_batches: int = 0
    progress_at: float | None = None
    healthy_since: float | None = None
    restarts: list[float] = []
    health: str = Health.NOT_DEPLOYED.value
    reason: str = ""
    failure: str | None = None
    gave_up: str | None = None
    lag_ms_per_shard: dict[str, int] = {}
    observed_at: float | None = None


class Look(BaseModel):
    """The result of one supervision pass."""

    state: SupervisorState
    verdict: HealthVerdict
    decision: RestartDecision | None = None
    driver_id: str | None = None
    metadata: dict[str, object] = {}


def state_path(pipeline: str) -> Path:
    return pipeline_dir(pipeline) / "supervisor.json"


def load_state(pipeline: str) -> SupervisorState:
    path = state_path(pipeline)
    if path.exists():
        try:
            return SupervisorState.model_validate_json(path.read_text())
        except ValueError:
            pass
    return SupervisorState()


def save_state(pipeline: str, state: SupervisorState) -> None:
    path = state_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(state.model_dump_json(indent=2))
    partial.rename(path)


def observe(job: SparkReceiverJobResource) -> tuple[Observation, dict[str, object]]:
    record, status = job.status()
    if record is None or status is None:
        return Observation(deployed=False, running=False), {}
    running = status.state is DriverState.RUNNING
    stats = None
    if running:
        stats = job.streaming_statistics(timeout=3)
    observation = Observation(
        deployed=True,
        running=running,
        exit_code=status.exit_code,
        stopped_on_purpose=status.state is DriverState.FINISHED,
        api_responding=stats is not None,
        receivers=record.receivers,
        active_receivers=(stats or {}).get("numActiveReceivers", 0),
        completed_batches=(stats or {}).get("numTotalCompletedBatches", 0),
    )
    return observation, stats or {}


def lag_per_shard(stream: KinesisStreamResource, app_table: DynamoDBAppTableResource) -> dict[str, int]:
    lag: dict[str, int] = {}
    try:
        for lease in app_table.leases():
            if lease.checkpoint == "SHARD_END":
                continue  # a closed parent shard, read to its end: nothing behind
            behind = stream.millis_behind(lease.shard_id, lease.checkpoint)
            if behind is not None:
                lag[lease.shard_id] = behind
    except KinesisPipelinesError:
        pass
    return lag


def supervise(
    spec: PipelineSpec,
    stream: KinesisStreamResource,
    app_table: DynamoDBAppTableResource,
    job: SparkReceiverJobResource,
    now: float | None = None,
) -> Look:
    now = time.time() if now is None else now
    state = load_state(spec.name)
    record = job.current()
    if record is not None and record.driver_id != state.driver_id:
        # a new driver: its batches count from zero, its progress from its start
        state = state.model_copy(
            update={"driver_id": record.driver_id, "previous_batches": 0, "progress_at": None,
                    "failure": None}
        )
    observation, stats = observe(job)
    verdict = classify(
        observation,
        now=now,
        previous_batches=state.previous_batches,
        progress_at=state.progress_at,
        batch_interval_seconds=spec.job.batch_interval_seconds,
        stall_batches=spec.supervision.stall_batches,
        started_at=record.submitted_at if record else now,
    )
    lag = lag_per_shard(stream, app_table) if observation.running else state.lag_ms_per_shard
    healthy_since = (state.healthy_since or now) if verdict.health is Health.HEALTHY else None
    decision = None
    failure = state.failure
    gave_up = state.gave_up
    if verdict.health in (Health.FAILED, Health.STALLED) and spec.supervision.enabled:
        kind = None
        if verdict.health is Health.FAILED and record is not None:
            kind = classify_failure(observation.exit_code, _tail(record.log_path))
            failure = kind.value
        decision = decide_restart(
            spec.supervision.restart,
            state.restarts,
            now,
            state.healthy_since,
            retryable=kind is None or kind in RETRYABLE,
        )
        gave_up = None if decision.restart or decision.wait_seconds > 0 else decision.reason
    elif verdict.health is Health.HEALTHY:
        gave_up = None
    new_state = state.model_copy(
        update={
            "previous_batches": verdict.completed_batches,
            "progress_at": verdict.progress_at,
            "healthy_since": healthy_since,
            "restarts": [*state.restarts, now] if decision and decision.restart else state.restarts,
            "health": verdict.health.value,
            "reason": verdict.reason,
            "failure": failure,
            "gave_up": gave_up,
            "lag_ms_per_shard": lag,
            "observed_at": now,
        }
    )
    save_state(spec.name, new_state)
    metadata: dict[str, object] = {
        "health": verdict.health.value,
        "reason": verdict.reason,
        "failure": failure or "-",
        "receivers": record.receivers if record else 0,
        "active_receivers": observation.active_receivers,
        "cores": record.cores if record else 0,
        "input_rate_records_per_s": round(float(stats.get("avgInputRate", 0.0) or 0.0), 2),
        "avg_scheduling_delay_ms": stats.get("avgSchedulingDelay", 0) or 0,
        "avg_processing_ms": stats.get("avgProcessingTime", 0) or 0,
        "completed_batches": verdict.completed_batches,
        "last_completed_batch": job.last_completed_batch() or "-",
        "max_lag_ms": max(lag.values()) if lag else 0,
        "lag_ms_per_shard": lag,
        "restarts_in_window": len(
            [t for t in new_state.restarts if now - t <= spec.supervision.restart.window_seconds]
        ),
    }
    if record is not None:
        metadata["generation"] = record.generation
        metadata["spark_ui"] = record.ui_url
    return Look(
        state=new_state,
        verdict=verdict,
        decision=decision,
        driver_id=record.driver_id if record else None,
        metadata=metadata,
    )


def _tail(path: str, size: int = 2_000_000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""
