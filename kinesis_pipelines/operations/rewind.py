"""A roll whose old generation's checkpoint cannot be recovered starts the new one from what the
pipeline delivered, not from KCL's positions (aws/rewind.py, planning/rewind.py)."""

from __future__ import annotations

from kinesis_pipelines.app.delivery import read_positions
from kinesis_pipelines.aws.rewind import rewind_leases
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.operations.dead_letters import job_files_for
from kinesis_pipelines.planning.rewind import RewindPlan, plan_rewind
from kinesis_pipelines.spec import PipelineSpec


def delivered_positions(spec: PipelineSpec, backends: Backends) -> dict[str, str] | None:
    """Per shard, the last sequence number the pipeline published (the delivery ledger's)."""
    directory = ledger_dir(spec)
    return read_positions(directory, job_files_for(backends, directory))


def rewind_to_delivered(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> RewindPlan:
    """Call only while no driver of the pipeline runs (under the operation lock, the old driver gone)."""
    return rewind_leases(
        backends.dynamodb,
        spec.app_table.application_name,
        delivered_positions(spec, backends),
        lambda message: progress(f"{spec.name}: {message}"),
    )


def preview_rewind(spec: PipelineSpec, backends: Backends) -> RewindPlan:
    """What a rewind would move now; changes nothing."""
    checkpoints = {lease.shard_id: lease.checkpoint for lease in backends.app_table.leases()}
    return plan_rewind(checkpoints, delivered_positions(spec, backends))
