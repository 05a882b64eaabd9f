"""Dagster definitions built from pipeline specs: per pipeline, and shared across pipelines."""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.launch.submit import check_processor
from kinesis_pipelines.orchestration.assets import assembly_asset, pipeline_assets, resource_keys
from kinesis_pipelines.orchestration.checks import pipeline_checks
from kinesis_pipelines.orchestration.jobs import job_named, pipeline_jobs, rebalance_schedule
from kinesis_pipelines.orchestration.sensors import health_sensor
from kinesis_pipelines.pipeline import resources_for
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.versions import SUPPORTED_SPARK_VERSIONS


def pipeline_definitions(spec: PipelineSpec) -> dg.Definitions:
    """One pipeline's assets, jobs, sensor and resources (the assembly asset is shared)."""
    try:
        check_processor(spec.job.processor)
    except SpecError as exc:
        raise SpecError(f"pipeline {spec.name}: {exc}") from exc
    configured = resources_for(spec)
    keys = resource_keys(spec.name)
    resources: dict[str, Any] = {
        keys["stream"]: configured.stream,
        keys["app_table"]: configured.app_table,
        keys["job"]: configured.job,
    }
    jobs = pipeline_jobs(spec)
    return dg.Definitions(
        assets=pipeline_assets(spec),
        asset_checks=pipeline_checks(spec),
        jobs=jobs,
        sensors=[health_sensor(spec, job_named(jobs, f"{spec.name}__restart"))],
        schedules=[rebalance_schedule(spec, job_named(jobs, f"{spec.name}__rebalance"))],
        resources=resources,
    )


def check_pipelines_apart(specs: Sequence[PipelineSpec], sources: Sequence[str] = ()) -> None:
    """Pipelines in one code location must not share a name or a KCL application table."""
    where = dict(zip([s.name for s in specs], sources, strict=False))
    seen_names: dict[str, str] = {}
    seen_tables: dict[tuple[str, str | None, str], str] = {}
    for spec in specs:
        label = where.get(spec.name, spec.name)
        if spec.name in seen_names:
            raise SpecError(
                f"{label}: name: pipeline name {spec.name!r} is already used by "
                f"{seen_names[spec.name]}; pipeline names must be unique"
            )
        seen_names[spec.name] = label
        table = (spec.stream.region, spec.app_table.endpoint_url, spec.app_table.application_name)
        if table in seen_tables:
            raise SpecError(
                f"{label}: app_table.application_name: {spec.app_table.application_name!r} is "
                f"also the application table of {seen_tables[table]}; two pipelines on one table "
                "would steal each other's shard leases: give each its own application name"
            )
        seen_tables[table] = f"pipeline {spec.name}"


def shared_definitions(specs: Sequence[PipelineSpec]) -> dg.Definitions:
    """What pipelines share: one assembly-jar asset per Spark version."""
    versions = sorted({spec.job.spark_version for spec in specs} or set(SUPPORTED_SPARK_VERSIONS))
    return dg.Definitions(assets=[assembly_asset(version) for version in versions])


def build_definitions(specs: Sequence[PipelineSpec]) -> dg.Definitions:
    """Every pipeline's definitions plus the shared ones (used where there is no defs folder)."""
    check_pipelines_apart(specs)
    return dg.Definitions.merge(
        shared_definitions(specs), *(pipeline_definitions(spec) for spec in specs)
    )
