"""Classifying a job from what was observed, and a failed driver from its exit and log. Pure."""

from __future__ import annotations

import re
from enum import Enum

from pydantic import BaseModel, ConfigDict


class Health(str, Enum):
    HEALTHY = "healthy"
    STALLED = "stalled"
    FAILED = "failed"
    STOPPED = "stopped"  # on purpose: exit 0 after a stop marker
    NOT_DEPLOYED = "not_deployed"


class FailureKind(str, Enum):
    OUT_OF_MEMORY = "out_of_memory"
    AWS_THROTTLING = "aws_throttling"
    LEASE_TABLE = "lease_table"
    CONNECTION_LOST = "connection_lost"
    PROCESSOR_ERROR = "processor_error"
    FENCED = "fenced"  # another driver holds the application
    KILLED = "killed"  # vanished with no exit status: SIGKILL, OOM killer, machine loss
    UNKNOWN = "unknown"


RETRYABLE = {
    FailureKind.OUT_OF_MEMORY,
    FailureKind.AWS_THROTTLING,
    FailureKind.LEASE_TABLE,
    FailureKind.CONNECTION_LOST,
    FailureKind.KILLED,
    FailureKind.UNKNOWN,
}

PATTERNS: list[tuple[FailureKind, re.Pattern[str]]] = [
    (FailureKind.FENCED, re.compile(r"kinesis-pipelines fence held by")),
    (FailureKind.OUT_OF_MEMORY, re.compile(r"OutOfMemoryError|MemoryError|Cannot allocate memory")),
    (FailureKind.PROCESSOR_ERROR, re.compile(r"PythonException")),
    (
        FailureKind.AWS_THROTTLING,
        re.compile(r"ProvisionedThroughputExceeded|ThrottlingException|LimitExceededException|Rate exceeded"),
    ),
    (
        FailureKind.LEASE_TABLE,
        re.compile(
            r"LeaseManager|DependencyException|leases\.exceptions|ResourceNotFoundException.*[Tt]able"
        ),
    ),
    (
        FailureKind.CONNECTION_LOST,
        re.compile(
            r"Connection refused|Unable to execute HTTP request|UnknownHostException|Connection reset|"
            r"SocketTimeoutException|NoHttpResponseException"
        ),
    ),
]


class Observation(BaseModel):
    """One look at a job: what the backend and the driver's monitoring API said."""

    model_config = ConfigDict(frozen=True)

    deployed: bool
    running: bool
    stop_requested: bool = False  # an operator asked for a stop: nothing may bring it back
    exit_code: int | None = None
    stopped_on_purpose: bool = False
    api_responding: bool = False
    receivers: int = 0
    active_receivers: int = 0
    completed_batches: int = 0
    # Spark tasks the driver finished (its executors' count, from Spark's own API, which answers
    # before the streaming API does): a driver working through a long batch, or through the batches
    # its checkpoint holds (inside StreamingContext.start, before the streaming API is up),
    # finishes tasks while it completes no batch
    completed_tasks: int | None = None
    # Spark tasks running now besides the receivers' own (each receiver is a task that never ends):
    # a batch whose tasks take longer than the stall limit (a big block, a slow processor) is
    # working, not stalled
    running_tasks: int = 0


class HealthVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    health: Health
    reason: str
    progress_at: float | None  # when batches or tasks last advanced (carried between looks)
    completed_batches: int
    completed_tasks: int = 0


def classify(
    observation: Observation,
    now: float,
    previous_batches: int,
    progress_at: float | None,
    batch_interval_seconds: float,
    stall_batches: int,
    started_at: float,
    startup_grace_seconds: float = 120.0,
    previous_tasks: int = 0,
    task_stall_seconds: float = 900.0,
) -> HealthVerdict:
    """healthy / stalled (for `stall_batches` intervals neither a batch nor a task finished,
    receivers inactive, API silent) / failed (driver gone or exited non-zero) / stopped on purpose.

    A slow driver is not a stalled one: a batch that takes longer than the stall limit, or a
    restarted driver generating and running the batches its checkpoint holds, finishes tasks, and
    a task longer than the stall limit is running. Only a driver that finishes nothing, with no
    task running (or none finishing for `task_stall_seconds`: a processor hung on a call), is
    replaced; a replacement would start that work over."""
    if not observation.deployed:
        return HealthVerdict(
            health=Health.NOT_DEPLOYED, reason="never deployed", progress_at=None, completed_batches=0
        )
    if observation.stop_requested:
        state = "stopping" if observation.running else "stopped"
        return HealthVerdict(
            health=Health.STOPPED,
            reason=f"{state} on request; not restarted",
            progress_at=progress_at,
            completed_batches=previous_batches,
        )
    if not observation.running:
        if observation.stopped_on_purpose or observation.exit_code == 0:
            return HealthVerdict(
                health=Health.STOPPED,
                reason="stopped on purpose",
                progress_at=progress_at,
                completed_batches=previous_batches,
            )
        code = "no exit status (killed)" if observation.exit_code is None else f"exit {observation.exit_code}"
        return HealthVerdict(
            health=Health.FAILED,
            reason=f"driver gone: {code}",
            progress_at=progress_at,
            completed_batches=previous_batches,
        )
    batches = max(observation.completed_batches, previous_batches)
    tasks = max(observation.completed_tasks or 0, previous_tasks)
    working = (observation.completed_tasks or 0) > previous_tasks
    if observation.completed_batches > previous_batches or working or progress_at is None:
        answered = observation.api_responding or observation.completed_tasks is not None
        progress_at = now if answered else (progress_at or started_at)
    quiet = now - progress_at
    limit = stall_batches * batch_interval_seconds
    # Grace only until the driver has shown progress once: a driver that completed batches and
    # then went quiet is stalled however young it is.
    # Tasks do not end the grace: Spark runs a short job of its own when receivers start (and a
    # recovering driver finishes tasks long before its first batch), so a task count says nothing
    # about whether the streaming context is up.
    in_grace = now - started_at < startup_grace_seconds and batches == 0

    def verdict(health: Health, reason: str) -> HealthVerdict:
        return HealthVerdict(
            health=health,
            reason=reason,
            progress_at=progress_at,
            completed_batches=batches,
            completed_tasks=tasks,
        )

    # tasks running (besides the receivers) and one finished within task_stall_seconds: working
    busy = observation.running_tasks > 0 and quiet <= task_stall_seconds
    running = f"{observation.running_tasks} tasks running, none finished for {quiet:.0f} s"
    if not observation.api_responding:
        if quiet > limit and busy:
            return verdict(
                Health.HEALTHY, f"recovering: running the batches its checkpoint holds ({running})"
            )
        if quiet > limit and not in_grace:
            return verdict(
                Health.STALLED,
                f"driver alive but nothing finished and its monitoring API silent for {quiet:.0f} s",
            )
        if working:
            return verdict(
                Health.HEALTHY, "recovering: running the batches its checkpoint holds (tasks finishing)"
            )
        return verdict(Health.HEALTHY, "starting")
    if quiet > limit and busy:
        return verdict(Health.HEALTHY, f"a batch in progress ({running})")
    if quiet > limit and not in_grace:
        hung = f"; {observation.running_tasks} tasks running" if observation.running_tasks else ""
        return verdict(
            Health.STALLED,
            f"no batch or task finished for {quiet:.0f} s ({stall_batches} intervals){hung}",
        )
    if observation.active_receivers < observation.receivers and not in_grace:
        return verdict(
            Health.STALLED, f"{observation.active_receivers} of {observation.receivers} receivers active"
        )
    if observation.completed_batches <= previous_batches and working:
        return verdict(Health.HEALTHY, "a batch in progress (tasks finishing)")
    return verdict(Health.HEALTHY, "batches completing")


def classify_failure(exit_code: int | None, log_tail: str) -> FailureKind:
    """KILLED if the driver vanished with no exit status; else the first known cause in its log."""
    if exit_code is None:
        return FailureKind.KILLED
    for kind, pattern in PATTERNS:
        if pattern.search(log_tail):
            return kind
    return FailureKind.UNKNOWN


def first_new_input(batches: list[tuple[float, int]], started_at: float) -> float | None:
    """When the driver first read new records: the time of its earliest completed batch that
    holds input and is not older than the driver's start (a driver recovered from a checkpoint
    first completes the batches it replays, which are older). None if none has yet. Pure: takes
    (batch time in epoch seconds, input records) pairs."""
    return min((moment for moment, records in batches if moment >= started_at and records > 0), default=None)


class OutputFreshness(BaseModel):
    """How fresh a pipeline's output must be, and how often the sensor says it is."""

    model_config = ConfigDict(frozen=True)

    warn_seconds: float
    fail_seconds: float
    report_every_seconds: float


def output_freshness(batch_interval_seconds: float, stall_batches: int) -> OutputFreshness:
    """From the batch interval: WARN once no batch completed for 10 intervals (at least a minute,
    Dagster's smallest window), FAIL at twice that or when the stall rule would have fired twice.
    The sensor reports completed batches at most every half warning window: a few events per
    minute, not one per batch."""
    warn = max(60.0, 10 * batch_interval_seconds)
    fail = max(2 * warn, 2 * stall_batches * batch_interval_seconds)
    return OutputFreshness(warn_seconds=warn, fail_seconds=fail, report_every_seconds=warn / 2)


class LagHealth(str, Enum):
    WITHIN = "within_limit"
    OVER = "over_limit"
    UNKNOWN = "unknown"  # not measured (an AWS error): never read as "no lag"


class LagVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    health: LagHealth
    worst_ms: int | None  # None when unknown
    reason: str


def classify_lag(per_shard: dict[str, int], limit_ms: float, unmeasured: str | None) -> LagVerdict:
    """Pure: the lag of the shards measured against the limit. A lag that could not be measured
    (`unmeasured`: why) is UNKNOWN, whatever the shards that were measured say: a shard nobody
    could read may be the one falling behind."""
    if unmeasured is not None:
        return LagVerdict(
            health=LagHealth.UNKNOWN, worst_ms=None, reason=f"could not measure the lag: {unmeasured}"
        )
    worst = max(per_shard.values(), default=0)
    if not per_shard:
        return LagVerdict(health=LagHealth.WITHIN, worst_ms=0, reason="no lease checkpoints yet")
    if worst > limit_ms:
        over = sorted(shard for shard, lag in per_shard.items() if lag > limit_ms)
        return LagVerdict(
            health=LagHealth.OVER,
            worst_ms=worst,
            reason=f"{', '.join(over)} more than {limit_ms / 1000:.0f} s behind (worst {worst / 1000:.1f} s)",
        )
    return LagVerdict(
        health=LagHealth.WITHIN, worst_ms=worst, reason=f"worst shard {worst / 1000:.1f} s behind"
    )
