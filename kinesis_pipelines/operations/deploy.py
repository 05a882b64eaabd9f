"""Deploying, restarting and stopping a pipeline's job: the one place these sequences live.

Every roll of the job goes through `roll.roll`: one operation at a time per pipeline on every host
(the lock in the control table), never two drivers anywhere (the fence in DynamoDB), never
against an operator's stop (the recorded intent, checked under the lock and again after the
submit: a driver started against a stop is stopped at once), and never abandoning what the old
generation received (drain.py)."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.assembly.build import AssemblyJar, build_assembly
from kinesis_pipelines.aws.connection import check_credentials, session_for
from kinesis_pipelines.aws.dynamodb import TableReport
from kinesis_pipelines.aws.kinesis import StreamReport
from kinesis_pipelines.errors import OperationLockedError
from kinesis_pipelines.launch import DriverStatus
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.operations.iam import check_orchestrator_permissions
from kinesis_pipelines.operations.rewind import preview_rewind
from kinesis_pipelines.operations.roll import Action, DeployResult, RequestedBy, receiver_plan, roll
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import Runtime, resolve_runtime
from kinesis_pipelines.spec.validation import check_processor

__all__ = [
    "Action",
    "DeployResult",
    "Deployment",
    "deploy",
    "deploy_job",
    "ensure_app_table",
    "preflight",
    "receiver_plan",
    "restart",
    "roll_for_rebalance",
    "stop",
]


class Deployment(BaseModel):
    """Every step of a full deploy."""

    model_config = ConfigDict(frozen=True)

    stream: StreamReport
    app_table: TableReport
    assembly: AssemblyJar
    job: DeployResult


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


def preflight(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> Runtime:
    """Everything that can be known wrong before anything is created: the processor imports,
    the cluster answers, the role can be assumed (with its external id), this host's identity
    holds the orchestrator's actions (asked of IAM, on AWS itself), and the control table's
    records of this application are this pipeline's. Returns the runtime it resolved (a Spark
    on this host to submit with is required), for the rest of the operation to take."""
    check_processor(spec.job.processor)
    runtime = resolve_runtime(spec)
    runtime.spark  # noqa: B018 (ToolMissingError when this host has no Spark to submit with)
    backends.launcher.check_ready()
    check_credentials(backends.connection)
    if not backends.connection.endpoints:  # AWS itself: IAM can check the policy in advance
        progress(check_orchestrator_permissions(spec, session_for(backends.connection)))
    backends.store.check_owner()
    return runtime


def deploy(
    spec: PipelineSpec,
    backends: Backends,
    *,
    reset_app_table: bool = False,
    progress: Progress = quiet,
) -> Deployment:
    """Every step of a deploy, in order: the stream, the lease table, the assembly, the job."""
    runtime = preflight(spec, backends, progress)
    stream_report = backends.stream.ensure_stream(progress=progress)
    table_report = ensure_app_table(spec, backends, stream_report, reset_app_table, progress)
    jar = build_assembly(runtime.spark_version, progress=progress)
    result = _start_job(spec, backends, runtime, assembly=jar, progress=progress)
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
    runtime = preflight(spec, backends, progress)
    return _start_job(spec, backends, runtime, assembly=assembly, progress=progress, now=now)


def _start_job(
    spec: PipelineSpec,
    backends: Backends,
    runtime: Runtime,
    *,
    assembly: AssemblyJar | None = None,
    progress: Progress = quiet,
    now: float | None = None,
) -> DeployResult:
    """deploy_job after its preflight (which `deploy` has already made)."""
    own = backends.store.save_intent("running", by="deploy", now=now)
    return roll(
        spec, backends, runtime=runtime, assembly=assembly, progress=progress, requested_by="operator",
        own_intent=own,
    )  # fmt: skip


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
    discard_checkpoint: bool = False,
) -> DeployResult:
    """Replace the driver from its Spark checkpoint (a stalled one is killed with `graceful`
    false). With `expected_driver_id`, only if that driver is still the current one, so a
    sensor's request and a run retry never restart twice. An operator's restart records that
    the job should run (like a deploy); an automatic one is refused once a stop is recorded (or
    the intent cannot be read), and so is one asked for before the operator's last deploy or
    stop. Only a restart the supervisor asked for that replaced a driver counts against the
    restart budget. With `discard_checkpoint` (the operator's word, never automatic), a
    checkpoint the driver cannot read is set aside, and every shard resumes from what the
    pipeline delivered (said first)."""
    now = time.time() if now is None else now
    own = backends.store.save_intent("running", by="restart", now=now) if requested_by == "operator" else None
    if discard_checkpoint:
        preview = preview_rewind(spec, backends).describe()
        progress(f"{spec.name}: if the Spark checkpoint cannot be read, it is set aside; {preview}")
    result = roll(
        spec,
        backends,
        progress=progress,
        restart=True,
        expected_driver_id=expected_driver_id,
        graceful=graceful,
        requested_by=requested_by,
        requested_at=requested_at,
        own_intent=own,
        discard_checkpoint=discard_checkpoint,
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
    """Record the stop first, so nothing automatic brings the job back (an operation holding the
    lock meanwhile stops what it starts), then stop the driver gracefully (a last batch; killed
    after `timeout`). None if it was never deployed. A deploy or restart recorded after this
    stop, by the time it holds the lock, wins: nothing is stopped."""
    store = backends.store
    mine = store.save_intent("stopped", by=by, now=now)
    try:
        with store.operation_lock(f"stop by {by}"):
            current = store.intent()
            record = store.driver()
            if current is not None and current.desired == "running" and current.version != mine.version:
                progress(f"{spec.name}: a later {current.by} superseded this stop; nothing stopped")
                return backends.launcher.status(record) if record is not None else None
            if record is None:
                return None
            progress(f"{spec.name}: stopping {record.driver_id} gracefully")
            return backends.launcher.stop_gracefully(
                record, timeout=backends.stop_timeout_seconds if timeout is None else timeout
            )
    except OperationLockedError as exc:
        raise OperationLockedError(
            f"{exc}. The stop is recorded: that operation starts nothing more and stops any driver it "
            "started; run the stop again once it ends to make sure"
        ) from exc


def roll_for_rebalance(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> DeployResult:
    """Roll the job to the receivers the stream's open shards now need (a new checkpoint
    generation, the old one drained first); refused if the operator stopped it."""
    return roll(spec, backends, progress=progress, requested_by="rebalance")
