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


class HealthVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    health: Health
    reason: str
    progress_at: float | None  # when batches last advanced (carried between looks)
    completed_batches: int


def classify(
    observation: Observation,
    now: float,
    previous_batches: int,
    progress_at: float | None,
    batch_interval_seconds: float,
    stall_batches: int,
    started_at: float,
    startup_grace_seconds: float = 120.0,
) -> HealthVerdict:
    """healthy / stalled (no batch for `stall_batches` intervals, receivers inactive, API silent)
    / failed (driver gone or exited non-zero) / stopped on purpose."""
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
    if observation.completed_batches > previous_batches or progress_at is None:
        progress_at = now if observation.api_responding else (progress_at or started_at)
    quiet = now - progress_at
    limit = stall_batches * batch_interval_seconds
    # Grace only until the driver has shown progress once: a driver that completed batches and
    # then went quiet is stalled however young it is.
    in_grace = now - started_at < startup_grace_seconds and batches == 0
    if not observation.api_responding:
        if quiet > limit and not in_grace:
            return HealthVerdict(
                health=Health.STALLED,
                reason=f"driver alive but its monitoring API silent for {quiet:.0f} s",
                progress_at=progress_at,
                completed_batches=batches,
            )
        return HealthVerdict(
            health=Health.HEALTHY, reason="starting", progress_at=progress_at, completed_batches=batches
        )
    if quiet > limit and not in_grace:
        return HealthVerdict(
            health=Health.STALLED,
            reason=f"no batch completed for {quiet:.0f} s ({stall_batches} intervals)",
            progress_at=progress_at,
            completed_batches=batches,
        )
    if observation.active_receivers < observation.receivers and not in_grace:
        return HealthVerdict(
            health=Health.STALLED,
            reason=f"{observation.active_receivers} of {observation.receivers} receivers active",
            progress_at=progress_at,
            completed_batches=batches,
        )
    return HealthVerdict(
        health=Health.HEALTHY, reason="batches completing", progress_at=progress_at, completed_batches=batches
    )


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
