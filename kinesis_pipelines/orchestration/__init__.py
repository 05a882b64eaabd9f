"""Dagster definitions built from pipeline specs: per pipeline, and shared across pipelines.
Dagster code only wires, records and requests runs; what happens lives in `operations`."""

from collections.abc import Sequence

import dagster as dg

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.launch.runtime import check_runtime, spark_version_of
from kinesis_pipelines.orchestration.assets import assembly_asset, pipeline_assets
from kinesis_pipelines.orchestration.checks import pipeline_checks
from kinesis_pipelines.orchestration.jobs import pipeline_jobs
from kinesis_pipelines.orchestration.resources import pipeline_resources
from kinesis_pipelines.orchestration.schedules import rebalance_schedule
from kinesis_pipelines.orchestration.sensors import health_sensor
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.validation import check_pipelines_apart, check_processor
from kinesis_pipelines.versions import TESTED_SPARK_VERSION


def pipeline_definitions(spec: PipelineSpec) -> dg.Definitions:
    """One pipeline's assets, checks, jobs, sensor, schedule and resources (the assembly asset
    is shared)."""
    try:
        check_processor(spec.job.processor)
        check_runtime(spec)
    except SpecError as exc:
        raise SpecError(f"pipeline {spec.name}: {exc}") from exc
    return dg.Definitions(
        assets=pipeline_assets(spec),
        asset_checks=pipeline_checks(spec),
        jobs=pipeline_jobs(spec),
        sensors=[health_sensor(spec)],
        schedules=[rebalance_schedule(spec)],
        resources=pipeline_resources(spec),
    )


def shared_definitions(specs: Sequence[PipelineSpec]) -> dg.Definitions:
    """What pipelines share: one assembly-jar asset per Spark version."""
    versions = sorted({spark_version_of(spec) for spec in specs} or {TESTED_SPARK_VERSION})
    return dg.Definitions(assets=[assembly_asset(version) for version in versions])


def build_definitions(specs: Sequence[PipelineSpec]) -> dg.Definitions:
    """Every pipeline's definitions plus the shared ones (used where there is no defs folder)."""
    check_pipelines_apart(specs)
    return dg.Definitions.merge(shared_definitions(specs), *(pipeline_definitions(spec) for spec in specs))


__all__ = [
    "build_definitions",
    "check_pipelines_apart",
    "pipeline_definitions",
    "shared_definitions",
]
