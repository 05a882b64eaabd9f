"""Dagster definitions built from pipeline specs: per pipeline, and shared across pipelines.
Dagster code only wires, records and requests runs; what happens lives in `operations`."""

from collections.abc import Sequence

import dagster as dg

from kinesis_pipelines.orchestration.assets import assembly_asset, pipeline_assets
from kinesis_pipelines.orchestration.checks import pipeline_checks
from kinesis_pipelines.orchestration.jobs import pipeline_jobs
from kinesis_pipelines.orchestration.resources import pipeline_resources
from kinesis_pipelines.orchestration.schedules import rebalance_schedule
from kinesis_pipelines.orchestration.sensors import health_sensor
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import Runtime
from kinesis_pipelines.spec.validation import check_pipelines_apart, validated_spec
from kinesis_pipelines.versions import TESTED_SPARK_VERSION


def pipeline_definitions(spec: PipelineSpec, runtime: Runtime | None = None) -> dg.Definitions:
    """One pipeline's assets, checks, jobs, sensor, schedule and resources (the assembly asset
    is shared). `runtime`: the one the spec's validation resolved, else resolved here."""
    runtime = runtime or validated_spec(spec)
    return dg.Definitions(
        assets=pipeline_assets(spec, runtime.spark_version),
        asset_checks=pipeline_checks(spec),
        jobs=pipeline_jobs(spec, runtime.spark_version),
        sensors=[health_sensor(spec)],
        schedules=[rebalance_schedule(spec)],
        resources=pipeline_resources(spec),
    )


def shared_definitions(versions: Sequence[str]) -> dg.Definitions:
    """What pipelines share: one assembly-jar asset per Spark version."""
    return dg.Definitions(
        assets=[assembly_asset(version) for version in sorted(set(versions) or {TESTED_SPARK_VERSION})]
    )


def build_definitions(specs: Sequence[PipelineSpec]) -> dg.Definitions:
    """Every pipeline's definitions plus the shared ones (used where there is no defs folder)."""
    check_pipelines_apart(specs)
    runtimes = [validated_spec(spec) for spec in specs]
    return dg.Definitions.merge(
        shared_definitions([runtime.spark_version for runtime in runtimes]),
        *(pipeline_definitions(spec, runtime) for spec, runtime in zip(specs, runtimes, strict=True)),
    )


__all__ = [
    "build_definitions",
    "check_pipelines_apart",
    "pipeline_definitions",
    "shared_definitions",
]
