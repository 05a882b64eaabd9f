"""Dagster definitions built from pipeline specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from kinesis_pipelines.defs.assets import assembly_asset, pipeline_assets, resource_keys
from kinesis_pipelines.defs.jobs import pipeline_jobs
from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.launch.submit import check_processor
from kinesis_pipelines.pipeline import resources_for
from kinesis_pipelines.spec import PipelineSpec


def build_definitions(specs: Sequence[PipelineSpec]) -> dg.Definitions:
    """Assets, jobs and resources for every pipeline, one assembly asset per Spark version."""
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(f"pipeline names must be unique; repeated: {', '.join(duplicates)}")
    assets: list[dg.AssetsDefinition] = [
        assembly_asset(version) for version in sorted({s.job.spark_version for s in specs})
    ]
    jobs: list[Any] = []
    resources: dict[str, object] = {}
    for spec in specs:
        try:
            check_processor(spec.job.processor)
        except SpecError as exc:
            raise SpecError(f"pipeline {spec.name}: {exc}") from exc
        assets += pipeline_assets(spec)
        jobs += pipeline_jobs(spec)
        configured = resources_for(spec)
        keys = resource_keys(spec.name)
        resources[keys["stream"]] = configured.stream
        resources[keys["app_table"]] = configured.app_table
        resources[keys["job"]] = configured.job
    return dg.Definitions(assets=assets, jobs=jobs, resources=resources)
