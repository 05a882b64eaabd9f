"""Deploying, restarting and stopping a pipeline's job: the one place these sequences live.

Every roll of the job goes through `_roll`: one operation at a time per pipeline (a lock),
never two drivers anywhere (the fence in DynamoDB), and never against an operator's stop (the
recorded intent, checked under the lock)."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.assembly.build import AssemblyJar, build_assembly
from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.connection import check_credentials, session_for
from kinesis_pipelines.aws.dynamodb import TableReport
from kinesis_pipelines.aws.handover import clear_dead_driver
from kinesis_pipelines.aws.kinesis import StreamReport
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch import DriverRecord, DriverState, DriverStatus
from kinesis_pipelines.launch.runtime import check_runtime, spark_of, spark_version_of
from kinesis_pipelines.launch.submit import build_submit_request
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.operations.iam import check_orchestrator_permissions
from kinesis_pipelines.planning import ReceiverPlan, plan_receivers
from kinesis_pipelines.processes import free_port
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.validation import check_processor

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


class Deployment(BaseModel):
    """Every step of a full deploy."""

    model_config = ConfigDict(frozen=True)

    stream: StreamReport
    app_table: TableReport
    assembly: AssemblyJar
    job: DeployResult


def receiver_plan(spec: PipelineSpec, open_shards: int) -> ReceiverPlan:
    job = spec.job
    return plan_receivers(
        open_shards=open_shards,
        max_receivers=job.max_receivers,
        executor_cores=job.executor_cores,
        processing_cores=job.processing_cores,
        master=job.master,
    )


def ensure_app_table(
    spec: PipelineSpec,
    backends: Backends,
    stream_report: StreamReport,
    reset: bool = False,
    progress: Progress = quiet,
) -> TableReport:
    return backends.app_table.ensure_table(
        stream_report.all_shards, backends.stream.oldest_sequence_number, reset=reset, progress=progress
    )


def preflight(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> None:
    """Everything that can be known wrong before anything is created: the processor imports,
    the cluster answers, the role can be assumed (with its external id), this host's identity
    holds the orchestrator's actions (asked of IAM, on AWS itself), and the control table's
    records of this application are this pipeline's."""
    check_processor(spec.job.processor)
    check_runtime(spec)
    spark_of(spec)
    backends.launcher.check_ready()
    check_credentials(backends.connection)
    if not backends.connection.endpoints:  # AWS itself: IAM can check the policy in advance
        progress(check_orchestrator_permissions(spec, session_for(backends.connection)))
    backends.store.check_owner()


def deploy(
    spec: PipelineSpec,
    backends: Backends,
    *,
    reset_app_table: bool = False,
    progress: Progress = quiet,
) -> Deployment:
    """Every step of a deploy, in order: the stream, the lease table, the assembly, the job."""
    preflight(spec, backends, progress)
    stream_report = backends.stream.ensure_stream(progress=progress)
    table_report = ensure_app_table(spec, backends, stream_report, reset_app_table, progress)
    jar = build_assembly(spark_version_of(spec), progress=progress)
    result = _start_job(spec, backends, assembly=jar, progress=progress)
    return Deployment(stream=stream_report, app_table=table_report, assembly=jar, job=result)


def deploy_job(
    spec: PipelineSpec,
    backends: Backends,
    *,
    assembly: AssemblyJar | None = None,
    progress: Progress = quiet,
    now: float | None = None,
) -> DeployResult:
    """Run the job for the current spec: nothing if that exact generation already runs, else
    stop the running one gracefully and start the new generation. An operator's deploy: it
    lifts an earlier stop."""
    preflight(spec, backends, progress)
    return _start_job(spec, backends, assembly=assembly, progress=progress, now=now)


def _start_job(
    spec: PipelineSpec,
    backends: Backends,
    *,
    assembly: AssemblyJar | None = None,
    progress: Progress = quiet,
    now: float | None = None,
) -> DeployResult:
    """deploy_job after its preflight (which `deploy` has already made)."""
    backends.store.save_intent("running", by="deploy", now=now)
    return _roll(spec, backends, assembly=assembly, progress=progress, requested_by="operator")


def restart(
    spec: PipelineSpec,
    backends: Backends,
    *,
    expected_driver_id: str | None = None,
    graceful: bool = True,
    requested_by: RequestedBy = "operator",
    requested_at: float | None = None,
    progress: Progress = quiet,
    now: float | None = None,
) -> DeployResult:
    """Replace the driver from its Spark checkpoint (a stalled one is killed with `graceful`
    false). With `expected_driver_id`, only if that driver is still the current one, so a
    sensor's request and a run retry never restart twice. Refused once a stop is recorded, and
    a request made before the operator's last deploy or stop is refused too. Only a restart the
    supervisor asked for that replaced a driver counts against the restart budget."""
    now = time.time() if now is None else now
    result = _roll(
        spec,
        backends,
        progress=progress,
        restart=True,
        expected_driver_id=expected_driver_id,
        graceful=graceful,
        requested_by=requested_by,
        requested_at=requested_at,
    )
    if requested_by == "supervisor" and result.action in ("restarted", "replaced"):
        backends.store.record_restart(now)
    return result


def stop(
    spec: PipelineSpec,
    backends: Backends,
    *,
    timeout: float | None = None,
    by: str = "operator",
    progress: Progress = quiet,
    now: float | None = None,
) -> DriverStatus | None:
    """Record the stop first, so nothing automatic brings the job back, then stop the driver
    gracefully (a last batch; killed after `timeout`). None if it was never deployed."""
    backends.store.save_intent("stopped", by=by, now=now)
    with backends.store.operation_lock():
        record = backends.store.driver()
        if record is None:
            return None
        progress(f"{spec.name}: stopping {record.driver_id} gracefully")
        return backends.launcher.stop_gracefully(
            record, timeout=backends.stop_timeout_seconds if timeout is None else timeout
        )


def roll_for_rebalance(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> DeployResult:
    """Roll the job to the receivers the stream's open shards now need (a new checkpoint
    generation); refused if the operator stopped it."""
    return _roll(spec, backends, progress=progress, requested_by="rebalance")


def _roll(
    spec: PipelineSpec,
    backends: Backends,
    *,
    assembly: AssemblyJar | None = None,
    progress: Progress = quiet,
    restart: bool = False,
    expected_driver_id: str | None = None,
    graceful: bool = True,
    requested_by: RequestedBy,
    requested_at: float | None = None,
) -> DeployResult:
    say = progress
    store, launcher = backends.store, backends.launcher
    jar = assembly or build_assembly(spark_version_of(spec), progress=say)
    plan = receiver_plan(spec, len(backends.stream.open_shard_ids()))
    request = build_submit_request(
        spec, plan, backends.connection, jar.path, ui_port=free_port(),
        control_root=launcher.control_root(store.root / "generations"),
        files_root=store.root / "generations", spark=spark_of(spec),
    )  # fmt: skip
    with store.operation_lock():
        intent = store.intent()
        if requested_by != "operator" and intent is not None:
            if intent.desired == "stopped":
                reason = f"{spec.name}: stopped on request ({intent.by}); not started again"
                say(reason)
                return DeployResult(action="refused", reason=reason, plan=plan)
            if requested_at is not None and requested_at < intent.at:
                reason = f"{spec.name}: the request predates the last {intent.by}; ignored"
                say(reason)
                return DeployResult(action="refused", reason=reason, plan=plan)
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
        replaced = None
        fence.ensure_fence_table(backends.dynamodb, spec.supervision.fence_table)
        if existing is not None:
            if running and graceful:
                say(f"{spec.name}: stopping {existing.driver_id} ({existing.generation})")
                launcher.stop_gracefully(existing, timeout=backends.stop_timeout_seconds)
                replaced = existing.generation
            elif running:
                say(f"{spec.name}: killing {existing.driver_id} (not responding)")
                launcher.kill(existing)
                replaced = existing.generation
            _clear_after(spec, backends, existing, say)
        _check_fence_free(spec, backends)
        say(f"{spec.name}: submitting {plan.receivers} receiver(s) on {plan.master}")
        record = launcher.submit(request)
        store.save_driver(record)
        _wait_started(backends, record, say)
    if replaced == request.generation or (restart and existing is not None and not replaced):
        action: Action = "restarted"
    elif replaced:
        action = "replaced"
    else:
        action = "started"
    return _result(backends, action, record, plan, replaced)


def _result(
    backends: Backends,
    action: Action,
    record: DriverRecord,
    plan: ReceiverPlan,
    replaced: str | None = None,
    reason: str = "",
) -> DeployResult:
    info = backends.launcher.driver_info(record)
    return DeployResult(
        action=action,
        reason=reason or plan.reason,
        record=record,
        plan=plan,
        application_id=info.application_id if info else None,
        replaced_generation=replaced,
        recovered_from_checkpoint=bool(info and info.recovered_from_checkpoint),
    )


def _clear_after(spec: PipelineSpec, backends: Backends, old: DriverRecord, say: Progress) -> None:
    """Once the old driver is gone: make sure (a zombie is killed), break its fence and
    release its leases so the next driver takes them at once."""
    launcher = backends.launcher
    if launcher.status(old).state is DriverState.RUNNING:
        say(f"{old.pipeline}: {old.driver_id} did not stop; killing it")
        launcher.kill(old)
    info = launcher.driver_info(old)
    owner = info.fence_owner if info else None
    if not owner and old.fence_owner_prefix:
        # the driver's own report is gone (another host, a lost control directory), but its
        # record says how its fence owners are named: a holder so named is that dead driver
        holder = fence.current(
            backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name
        )
        if holder is not None and holder[0].startswith(old.fence_owner_prefix):
            owner = holder[0]
    released = clear_dead_driver(
        backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name, owner
    )
    if released:
        say(f"{old.pipeline}: released {released} lease(s) of the stopped driver")


def _check_fence_free(spec: PipelineSpec, backends: Backends) -> None:
    holder = fence.current(backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name)
    if holder is not None and holder[1] > time.time():
        renewed = fence.FENCE_TTL_SECONDS - (holder[1] - time.time())
        raise LaunchError(
            f"{spec.name}: application {spec.app_table.application_name!r} already has a "
            f"running driver ({holder[0]}, fence renewed {renewed:.0f} s ago); "
            "stop it first (the stop job or `kinesis-pipelines stop`)"
        )


def _wait_started(backends: Backends, record: DriverRecord, say: Progress) -> None:
    launcher = backends.launcher
    timeout = backends.start_timeout_seconds
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 5
    while time.monotonic() < deadline:
        if launcher.driver_info(record) is not None:
            return
        status = launcher.status(record)
        if status.state is not DriverState.RUNNING:
            raise LaunchError(
                f"the driver of {record.pipeline} exited ({status.state.value}, exit code "
                f"{status.exit_code}) before starting; its log ends:\n{_tail(launcher.logs(record))}"
            )
        if time.monotonic() > next_note:
            say(f"{record.pipeline}: waiting for the driver to start")
            next_note = time.monotonic() + 5
        time.sleep(0.3)
    launcher.kill(record)
    raise LaunchError(
        f"the driver of {record.pipeline} did not start within {timeout:.0f} s; killed it. "
        f"Log:\n{_tail(launcher.logs(record))}"
    )


def _tail(log: str, lines: int = 30) -> str:
    return "\n".join(log.splitlines()[-lines:]) or "(no log)"
