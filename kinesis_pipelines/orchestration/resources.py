"""A pipeline's Dagster resources: configured from its spec, and turned back into the
operations' backends in one typed place."""

from __future__ import annotations

from typing import Any, TypeVar

import dagster as dg

from kinesis_pipelines.operations import Backends
from kinesis_pipelines.resources import (
    DynamoDBAppTableResource,
    KinesisStreamResource,
    SparkReceiverJobResource,
)
from kinesis_pipelines.spec import PipelineSpec

Resource = TypeVar("Resource", bound=dg.ConfigurableResource)


def resource_keys(pipeline: str) -> dict[str, str]:
    return {
        "stream": f"{pipeline}__stream",
        "app_table": f"{pipeline}__app_table",
        "job": f"{pipeline}__spark_job",
    }


def pipeline_resources(spec: PipelineSpec) -> dict[str, Any]:
    """The three resources of one pipeline, keyed per pipeline, configured from its spec."""
    keys = resource_keys(spec.name)
    credentials: dict[str, Any] = {
        "region_name": spec.stream.region,
        "role_arn": spec.credentials.role_arn,
        "session_name": spec.credentials.session_name,
        "session_duration_seconds": spec.credentials.session_duration_seconds,
        "external_id_env": spec.credentials.external_id_env,
    }
    return {
        keys["stream"]: KinesisStreamResource(
            stream_name=spec.stream.name,
            endpoint_url=spec.stream.endpoint_url,
            shards=spec.stream.shards,
            capacity_mode=spec.stream.capacity_mode.value,
            retention_hours=spec.stream.retention_hours,
            **credentials,
        ),
        keys["app_table"]: DynamoDBAppTableResource(
            application_name=spec.app_table.application_name,
            endpoint_url=spec.app_table.endpoint_url,
            **credentials,
        ),
        keys["job"]: SparkReceiverJobResource(spec_json=spec.model_dump_json()),
    }


def backends_from(context: Any, spec: PipelineSpec) -> Backends:
    """The operations' backends from the resources of a Dagster context (asset, op, check,
    sensor or schedule)."""
    keys = resource_keys(spec.name)
    stream = _typed(context, keys["stream"], KinesisStreamResource)
    table = _typed(context, keys["app_table"], DynamoDBAppTableResource)
    job = _typed(context, keys["job"], SparkReceiverJobResource)
    return Backends(
        job.spec(),
        launcher=job.launcher(),
        stream=stream.stream(),
        app_table=table.table(),
        stop_timeout_seconds=job.stop_timeout_seconds,
        start_timeout_seconds=job.start_timeout_seconds,
    )


def _typed(context: Any, key: str, kind: type[Resource]) -> Resource:
    value = getattr(context.resources, key, None)
    if not isinstance(value, kind):
        raise dg.DagsterInvariantViolationError(
            f"resource {key!r} should be a {kind.__name__}, got {type(value).__name__}; "
            "bind it with kinesis_pipelines.orchestration.resources.pipeline_resources"
        )
    return value
