"""A roll whose old generation's checkpoint cannot be recovered starts the new one from what the
pipeline delivered, not from KCL's positions (aws/rewind.py, planning/rewind.py)."""

from __future__ import annotations

from kinesis_pipelines.app.delivery import read_positions
from kinesis_pipelines.aws.rewind import rewind_leases
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.operations.dead_letters import job_files_for
from kinesis_pipelines.planning.rewind import RewindPlan
from kinesis_pipelines.spec import PipelineSpec


def rewind_to_delivered(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> RewindPlan:
    """Call only while no driver of the pipeline runs (under the operation lock, the old driver gone)."""
    directory = ledger_dir(spec)
    delivered = read_positions(directory, job_files_for(backends, directory))
    return rewind_leases(
        backends.dynamodb,
        spec.app_table.application_name,
        delivered,
        lambda message: progress(f"{spec.name}: {message}"),
    )
