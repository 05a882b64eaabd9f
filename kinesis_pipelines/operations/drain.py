"""Leaving a checkpoint generation without abandoning what it received.

With the receivers' write-ahead log, KCL's positions move on once a block is in the log: a block
received but not yet processed is in the old generation's checkpoint and log only. So before a new
generation starts, the old one drains: its driver stops gracefully with no cut-off short of the
operator's `job.drain_timeout_seconds` of silence (no Spark task finishing), processing every
queued batch. A generation that could not
drain (its driver was already dead, was killed after the timeout or mid-drain, or the orchestrator
died mid-roll) is launched again from its own checkpoint with its stop marker placed at once: it
recovers its checkpoint and log, processes every recovered batch, and exits. Only a driver that
exited cleanly after a stop marker counts as drained; the generation record in the control table
says so, so a later roll on any host knows whether a drain is still owed.

A restart within one generation (from its checkpoint) needs no drain: the next driver recovers the
same checkpoint."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.app.receiver_app import UNUSABLE_CHECKPOINT_EXIT_CODE
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch import DriverRecord, DriverState, DriverStatus, SubmitRequest
from kinesis_pipelines.launch.base import WorkCount
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.operations.backends import Backends, Progress
from kinesis_pipelines.operations.driver_steps import check_fence_free, clear_after, tail
from kinesis_pipelines.operations.rewind import rewind_to_delivered
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import GenerationRecord

DRAIN_MARGIN_SECONDS = 60.0  # beyond the drain timeout: Spark's own stop of the context after it
SECRET_ENV = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})


class Retired(BaseModel):
    """What became of the driver a roll replaces."""

    model_config = ConfigDict(frozen=True)

    replaced: str | None = None  # the generation whose running driver was stopped or killed
    drained: bool | None = None  # None: nothing to drain (no old driver, or the same generation)
    relaunched: bool = False  # the old generation was launched again to drain
    # its checkpoint could not be recovered: where the new generation resumes instead (the
    # positions the pipeline delivered, not KCL's), in words
    resumed_from_delivered: str | None = None
    detail: str = ""


def drain_timeout(spec: PipelineSpec) -> float:
    """How long the old generation may take to finish its queued batches (the operator's limit)."""
    return spec.job.drain_timeout_seconds


def storable(request: SubmitRequest) -> SubmitRequest:
    """The request as the control table keeps it: no credentials of this host's environment."""
    return request.model_copy(update={"env": {k: v for k, v in request.env.items() if k not in SECRET_ENV}})


def restored(request: SubmitRequest, connection: AwsConnection) -> SubmitRequest:
    """A stored request ready to submit again from this host: its credentials added back."""
    return request.model_copy(update={"env": {**request.env, **connection.credential_env()}})


def retire(
    spec: PipelineSpec,
    backends: Backends,
    existing: DriverRecord,
    new_generation: str,
    graceful: bool,
    say: Progress,
) -> Retired:
    """Stop the current driver for a roll to `new_generation`; drained first when that is a
    different generation. LaunchError (and nothing started) if the old generation cannot drain."""
    launcher = backends.launcher
    status = launcher.status(existing)
    running = status.state is DriverState.RUNNING
    if existing.generation == new_generation:
        if running and graceful:
            say(f"{spec.name}: stopping {existing.driver_id} ({existing.generation})")
            launcher.stop_gracefully(existing, timeout=backends.stop_timeout_seconds)
        elif running:
            say(f"{spec.name}: killing {existing.driver_id} (not responding)")
            launcher.kill(existing)
        clear_after(spec, backends, existing, say)
        return Retired(replaced=existing.generation if running else None)
    recorded = backends.store.generation()
    if recorded is not None and recorded.generation == existing.generation and recorded.drained:
        clear_after(spec, backends, existing, say)
        return Retired(drained=True, detail=f"generation {existing.generation} had drained already")
    timeout = drain_timeout(spec) + DRAIN_MARGIN_SECONDS
    waited = 0.0
    if running and graceful:
        say(
            f"{spec.name}: draining {existing.driver_id} (generation {existing.generation}): its receivers "
            f"stop and every batch it received is processed before generation {new_generation} starts "
            f"(cut off only after {timeout:.0f} s in which no Spark task finished)"
        )
        began = time.monotonic()
        status = launcher.stop_gracefully(
            existing, timeout=timeout, working=tasks_finished(backends, existing)
        )
        waited = time.monotonic() - began
    elif running:
        say(f"{spec.name}: killing {existing.driver_id} (not responding); its generation is drained next")
        status = launcher.kill(existing)
    clear_after(spec, backends, existing, say)
    replaced = existing.generation if running else None
    if status.state is DriverState.FINISHED:
        detail = (
            f"generation {existing.generation} drained: {existing.driver_id} exited cleanly after its stop"
        )
        _mark_drained(backends, recorded, existing.generation, detail)
        say(f"{spec.name}: {detail}")
        return Retired(replaced=replaced, drained=True, detail=detail)
    why = _why_not_drained(existing, status, was_running=running, graceful=graceful, waited=waited)
    if recorded is None or recorded.generation != existing.generation or recorded.request is None:
        detail = (
            f"generation {existing.generation} did not drain ({why}) and cannot be launched again to drain: "
            "no submit request was recorded for it (deployed by an earlier version); what it had received "
            "but not processed is not replayed"
        )
        say(f"{spec.name}: {detail}")
        return Retired(replaced=replaced, drained=False, detail=detail)
    rewound = relaunch(spec, backends, recorded, new_generation, why, timeout, say)
    if rewound is not None:
        detail = (
            f"generation {existing.generation} did not drain ({why}) and its checkpoint cannot be read; "
            f"generation {new_generation} resumes from what the pipeline delivered: {rewound}"
        )
        say(f"{spec.name}: {detail}")
        _mark_drained(backends, backends.store.generation(), existing.generation, detail)
        return Retired(
            replaced=replaced, drained=False, relaunched=True, resumed_from_delivered=rewound, detail=detail
        )
    detail = (
        f"generation {existing.generation} did not drain ({why}); launched again from its checkpoint "
        f"{recorded.request.checkpoint_dir} with its stop marker, it processed what it had received and "
        "exited"
    )
    say(f"{spec.name}: {detail}")
    _mark_drained(backends, backends.store.generation(), existing.generation, detail)
    return Retired(replaced=replaced, drained=True, relaunched=True, detail=detail)


def relaunch(
    spec: PipelineSpec,
    backends: Backends,
    recorded: GenerationRecord,
    new_generation: str,
    why: str,
    timeout: float,
    say: Progress,
) -> str | None:
    """Launch the old generation again from its checkpoint, ask it to stop at once, wait until
    it has processed what it recovered and exited. When its checkpoint cannot be read, move every
    shard's KCL checkpoint back to what the pipeline delivered instead, and return what moved;
    LaunchError if it failed otherwise, or if the delivered positions are not known."""
    assert recorded.request is not None
    launcher, store = backends.launcher, backends.store
    check_fence_free(spec, backends)
    say(
        f"{spec.name}: generation {recorded.generation} did not drain ({why}); launching it again from its "
        f"checkpoint {recorded.request.checkpoint_dir} with its stop marker, so it processes every batch it "
        f"had received and exits before generation {new_generation} starts"
    )
    record = launcher.submit(restored(recorded.request, backends.connection))
    store.save_driver(record)  # tracked: a roll after this orchestrator died finds it
    store.save_generation(recorded.model_copy(update={"driver_id": record.driver_id}))
    status = launcher.stop_gracefully(
        record, timeout=backends.start_timeout_seconds + timeout, working=tasks_finished(backends, record)
    )
    clear_after(spec, backends, record, say)
    if status.exit_code == UNUSABLE_CHECKPOINT_EXIT_CODE:
        plan = rewind_to_delivered(spec, backends, say)
        if plan.unknown is None:
            return plan.describe()
        raise LaunchError(
            f"{spec.name}: generation {recorded.generation} cannot be drained: its checkpoint "
            f"{recorded.request.checkpoint_dir} cannot be read, and {plan.unknown}. Generation "
            f"{new_generation} was not started. Its log ends:\n{tail(launcher.logs(record))}"
        )
    if status.state is not DriverState.FINISHED:
        raise LaunchError(
            f"{spec.name}: generation {recorded.generation} could not be drained: launched again from its "
            f"checkpoint {recorded.request.checkpoint_dir}, its driver {record.driver_id} ended "
            f"{status.state.value} (exit code {status.exit_code}). Generation {new_generation} was not "
            "started, so nothing the old generation holds is skipped. Fix what its log says and deploy "
            f"again (the drain is tried again). Its log ends:\n{tail(launcher.logs(record))}"
        )
    return None


def tasks_finished(backends: Backends, record: DriverRecord) -> WorkCount:
    """The Spark tasks a draining driver has finished, read from its own API: a drain is cut off
    only when none finished for the drain timeout, never while the driver works through what it
    received (a relaunched one first recovers every batch its checkpoint holds, which alone can
    take longer than any fixed limit)."""

    def finished() -> int | None:
        counts = monitoring.executor_tasks(backends.launcher, record)
        return counts.completed if counts else None

    return finished


def _why_not_drained(
    existing: DriverRecord, status: DriverStatus, *, was_running: bool, graceful: bool, waited: float
) -> str:
    code = f"{status.state.value}, exit code {status.exit_code}"
    if not was_running:
        return f"its driver {existing.driver_id} had already ended ({code}) when the roll began"
    if not graceful:
        return f"its driver {existing.driver_id} was not responding and was killed"
    return (
        f"its driver {existing.driver_id} ended {waited:.0f} s into its drain without finishing it ({code})"
    )


def _mark_drained(
    backends: Backends, recorded: GenerationRecord | None, generation: str, detail: str
) -> None:
    if recorded is None or recorded.generation != generation:
        recorded = GenerationRecord(generation=generation)
    backends.store.save_generation(
        recorded.model_copy(update={"drained": True, "drained_at": time.time(), "detail": detail})
    )
