"""One roll of a pipeline's job, under the pipeline's lock: the operator's intent checked, the
old driver retired (its generation drained first when the roll leaves it, drain.py), the new one
submitted and recorded, the intent read again (a stop recorded meanwhile stops the new driver at
once), and the new driver waited for."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.assembly.build import AssemblyJar, build_assembly
from kinesis_pipelines.aws import fence, oplock
from kinesis_pipelines.errors import ControlRecordConflictError, LaunchError
from kinesis_pipelines.launch import DriverRecord, DriverState
from kinesis_pipelines.launch.submit import build_submit_request, superseding
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.operations.drain import Retired, retire, storable
from kinesis_pipelines.operations.driver_steps import check_fence_free, clear_after, wait_started
from kinesis_pipelines.planning import ReceiverPlan, plan_receivers
from kinesis_pipelines.processes import free_port
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import Runtime, resolve_runtime
from kinesis_pipelines.state import GenerationRecord, Intent

Action = Literal["started", "unchanged", "replaced", "restarted", "refused"]
RequestedBy = Literal["operator", "supervisor", "rebalance"]


class DeployResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: Action
    reason: str = ""
    record: DriverRecord | None = None
    plan: ReceiverPlan | None = None
    application_id: str | None = None
    replaced_generation: str | None = None
    recovered_from_checkpoint: bool = False
    # leaving an old generation for a new one: whether it drained (None: nothing to drain),
    # and whether it had to be launched again from its checkpoint to drain; `reason` says how
    drained: bool | None = None
    drain_relaunched: bool = False
    # the old generation's checkpoint could not be read: where the new one resumes instead
    resumed_from_delivered: str | None = None


def receiver_plan(spec: PipelineSpec, open_shards: int) -> ReceiverPlan:
    job = spec.job
    return plan_receivers(
        open_shards=open_shards,
        max_receivers=job.max_receivers,
        executor_cores=job.executor_cores,
        processing_cores=job.processing_cores,
        master=job.master,
    )


def refusal(
    spec: PipelineSpec,
    intent: Intent | None,
    requested_by: RequestedBy,
    requested_at: float | None,
    own: Intent | None,
) -> str | None:
    """Why the operator's recorded intent forbids this roll now, or None."""
    if intent is None:
        return None
    if intent.unreadable:
        return (
            f"{spec.name}: not started: the operator's intent could not be read ({intent.unreadable}); "
            "counted as a stop"
        )
    if own is not None:  # an operator's deploy or restart: refused only by a later stop
        if intent.desired == "stopped" and intent.version != own.version:
            return f"{spec.name}: a stop ({intent.by}) was recorded after this {own.by}; not started"
        return None
    if intent.desired == "stopped":
        return f"{spec.name}: stopped on request ({intent.by}); not started again"
    if requested_at is not None and requested_at < intent.at:
        return f"{spec.name}: the request predates the last {intent.by}; ignored"
    return None


def roll(
    spec: PipelineSpec,
    backends: Backends,
    *,
    runtime: Runtime | None = None,
    assembly: AssemblyJar | None = None,
    progress: Progress = quiet,
    restart: bool = False,
    expected_driver_id: str | None = None,
    graceful: bool = True,
    requested_by: RequestedBy,
    requested_at: float | None = None,
    own_intent: Intent | None = None,
    discard_checkpoint: bool = False,
) -> DeployResult:
    say = progress
    store, launcher = backends.store, backends.launcher
    runtime = runtime or resolve_runtime(spec)
    jar = assembly or build_assembly(runtime.spark_version, progress=say)
    plan = receiver_plan(spec, len(backends.stream.open_shard_ids()))
    request = build_submit_request(
        spec, plan, backends.connection, jar.path, ui_port=free_port(),
        control_root=launcher.control_root(store.root / "generations"),
        files_root=store.root / "generations", runtime=runtime,
        discard_unusable_checkpoint=discard_checkpoint,
    )  # fmt: skip
    with store.operation_lock(f"{'restart' if restart else 'roll'} by {requested_by}"):
        refused = refusal(spec, store.intent(), requested_by, requested_at, own_intent)
        if refused:
            say(refused)
            return DeployResult(action="refused", reason=refused, plan=plan)
        existing = store.driver()
        running = existing is not None and launcher.status(existing).state is DriverState.RUNNING
        if existing is not None and expected_driver_id and existing.driver_id != expected_driver_id:
            reason = f"{spec.name}: {expected_driver_id} was already replaced by {existing.driver_id}"
            say(reason)
            return _result(backends, "unchanged", existing, plan, reason=reason)
        if running and existing is not None and existing.generation == request.generation and not restart:
            reason = f"{spec.name}: generation {existing.generation} already running; unchanged"
            say(reason)
            return _result(backends, "unchanged", existing, plan, reason=reason)
        fence.ensure_fence_table(backends.dynamodb, spec.supervision.fence_table)
        latest = store.generation()
        if latest is not None and latest.generation != request.generation:
            # back to a generation the pipeline may have left: its checkpoint, if any, is stale
            request = superseding(request, int(time.time() * 1000))
        retired = Retired()
        if existing is not None:
            retired = retire(spec, backends, existing, request.generation, graceful, say)
        later = store.intent()  # a drain can be long: a stop recorded meanwhile wins
        if (
            later is not None
            and later.desired == "stopped"
            and (own_intent is None or later.version != own_intent.version)
        ):
            reason = (
                f"{spec.name}: a stop ({later.by}) was recorded during this roll; "
                f"generation {request.generation} not started"
            )
            say(reason)
            return DeployResult(action="refused", reason=_joined(reason, retired.detail), plan=plan,
                                replaced_generation=retired.replaced, drained=retired.drained,
                                drain_relaunched=retired.relaunched,
                                resumed_from_delivered=retired.resumed_from_delivered)  # fmt: skip
        if store.lock_lost():
            raise LaunchError(
                f"{spec.name}: this operation lost the pipeline's lock (it could not renew it for "
                f"{oplock.LOCK_TTL_SECONDS:.0f} s); nothing started. Run it again"
            )
        check_fence_free(spec, backends)
        previous = store.generation()
        if previous is None or previous.generation != request.generation or not restart:
            previous = GenerationRecord(generation=request.generation)
        store.save_generation(previous.model_copy(update={"request": storable(request), "drained": False}))
        say(f"{spec.name}: submitting {plan.receivers} receiver(s) on {plan.master}")
        record = launcher.submit(request)
        try:
            store.save_driver(record)
        except ControlRecordConflictError as exc:
            launcher.kill(record)
            raise LaunchError(
                f"{spec.name}: another operation replaced the driver record while {record.driver_id} was "
                "submitted; killed it so only one driver runs. Look at `kinesis-pipelines status` and "
                "deploy again if needed"
            ) from exc
        store.save_generation(store.generation() or previous)
        stopped = _stop_if_stopped(spec, backends, record, own_intent, say)
        if stopped is not None:
            return _result(backends, "refused", record, plan, retired.replaced, stopped, retired)
        wait_started(backends, record, say)
    replaced = retired.replaced
    if replaced == request.generation or (restart and existing is not None and not replaced):
        action: Action = "restarted"
    elif replaced:
        action = "replaced"
    else:
        action = "started"
    return _result(backends, action, record, plan, replaced, retired=retired)


def _stop_if_stopped(
    spec: PipelineSpec, backends: Backends, record: DriverRecord, own: Intent | None, say: Progress
) -> str | None:
    """The operator's intent read again after the submit: a stop recorded meanwhile (on any host)
    stops the new driver at once. Returns why, or None if the job may run."""
    intent = backends.store.intent()
    if intent is None or intent.desired != "stopped" or (own is not None and intent.version == own.version):
        return None
    reason = (
        f"{spec.name}: a stop ({intent.by}) was recorded while {record.driver_id} started; stopped it at once"
    )
    say(reason)
    backends.launcher.stop_gracefully(record, timeout=backends.stop_timeout_seconds)
    clear_after(spec, backends, record, say)
    return reason


def _joined(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _result(
    backends: Backends,
    action: Action,
    record: DriverRecord,
    plan: ReceiverPlan,
    replaced: str | None = None,
    reason: str = "",
    retired: Retired | None = None,
) -> DeployResult:
    info = backends.launcher.driver_info(record)
    retired = retired or Retired()
    return DeployResult(
        action=action,
        reason=_joined(reason or plan.reason, retired.detail),
        record=record,
        plan=plan,
        application_id=info.application_id if info else None,
        replaced_generation=replaced,
        recovered_from_checkpoint=bool(info and info.recovered_from_checkpoint),
        drained=retired.drained,
        drain_relaunched=retired.relaunched,
        resumed_from_delivered=retired.resumed_from_delivered,
    )
