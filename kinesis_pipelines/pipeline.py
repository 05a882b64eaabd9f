"""One pipeline's operations, shared by the Dagster assets and the CLI: the resources a spec
configures, and the steps of a deploy in order (stream, application table, assembly, job)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.assembly.build import build_assembly, cache_key, jar_name, render_pom
from kinesis_pipelines.aws import AwsConnection, resolve_connection
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.home import cache_home
from kinesis_pipelines.launch.submit import build_submit_request, check_processor, render_command
from kinesis_pipelines.planning import ReceiverPlan
from kinesis_pipelines.resources.dynamodb import DynamoDBAppTableResource, TableReport
from kinesis_pipelines.resources.kinesis import KinesisStreamResource, StreamReport
from kinesis_pipelines.resources.spark import DeployResult, SparkReceiverJobResource
from kinesis_pipelines.spec import EMBEDDED, PipelineSpec

Progress = Callable[[str], None]


class PipelineResources(BaseModel):
    """The three resources of one pipeline, configured from its spec."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    stream: KinesisStreamResource
    app_table: DynamoDBAppTableResource
    job: SparkReceiverJobResource


def resources_for(spec: PipelineSpec) -> PipelineResources:
    credentials = {
        "region_name": spec.stream.region,
        "role_arn": spec.credentials.role_arn,
        "session_name": spec.credentials.session_name,
        "external_id_env": spec.credentials.external_id_env,
    }
    return PipelineResources(
        stream=KinesisStreamResource(
            stream_name=spec.stream.name,
            endpoint_url=spec.stream.endpoint_url,
            shards=spec.stream.shards,
            capacity_mode=spec.stream.capacity_mode.value,
            retention_hours=spec.stream.retention_hours,
            **credentials,
        ),
        app_table=DynamoDBAppTableResource(
            application_name=spec.app_table.application_name,
            endpoint_url=spec.app_table.endpoint_url,
            **credentials,
        ),
        job=SparkReceiverJobResource(spec_json=spec.model_dump_json()),
    )


def ensure_app_table(
    stream: KinesisStreamResource,
    app_table: DynamoDBAppTableResource,
    stream_report: StreamReport,
    reset: bool = False,
    progress: Progress | None = None,
) -> TableReport:
    return app_table.ensure_table(
        stream_report.all_shards, stream.oldest_sequence_number, reset=reset, progress=progress
    )


def deploy(
    spec: PipelineSpec, reset_app_table: bool = False, progress: Progress | None = None
) -> tuple[StreamReport, TableReport, Any, DeployResult]:
    """Every step of a deploy, in order; what the demo and `kinesis-pipelines deploy` run."""
    check_processor(spec.job.processor)
    resources = resources_for(spec)
    stream_report = resources.stream.ensure_stream(progress=progress)
    table_report = ensure_app_table(
        resources.stream, resources.app_table, stream_report, reset_app_table, progress
    )
    jar = build_assembly(spec.job.spark_version, progress=progress)
    result = resources.job.deploy(len(stream_report.open_shards), jar.path, progress=progress)
    return stream_report, table_report, jar, result


class PlanReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    pipeline: str
    stream: str
    stream_exists: bool | None
    open_shards: int
    shards_source: str
    application_table: str
    receivers: int
    cores: int
    master: str
    reason: str
    generation: str
    assembly_jar: str
    spark_submit: str
    notes: list[str]


def plan(spec: PipelineSpec) -> PlanReport:
    """What a deploy would create and submit. Reads AWS when it can; never changes anything."""
    check_processor(spec.job.processor)
    resources = resources_for(spec)
    notes: list[str] = []
    stream_exists: bool | None
    try:
        summary = resources.stream.describe()
        stream_exists = summary is not None
        if summary is not None:
            open_shards = len(resources.stream.open_shard_ids())
            source = "open shards of the existing stream"
        else:
            open_shards, source = spec.stream.shards, "the spec (the stream would be created)"
    except KinesisPipelinesError as exc:
        stream_exists = None
        open_shards, source = spec.stream.shards, "the spec (AWS not reachable to check)"
        notes.append(f"could not look at the stream: {exc}")
    receiver_plan: ReceiverPlan = resources.job.plan(open_shards)
    try:
        connection = resolve_connection(spec)
    except KinesisPipelinesError as exc:
        notes.append(str(exc))
        connection = _placeholder_connection(spec)
    jar = cache_home() / "assembly" / cache_key(render_pom(spec.job.spark_version))
    jar = jar / jar_name(spec.job.spark_version)
    if not jar.exists():
        notes.append("the assembly jar is not built yet; a deploy builds it with Maven")
    request, _config, _override = build_submit_request(
        spec, receiver_plan, connection, str(jar), ui_port=4040
    )
    return PlanReport(
        pipeline=spec.name,
        stream=spec.stream.name,
        stream_exists=stream_exists,
        open_shards=open_shards,
        shards_source=source,
        application_table=spec.app_table.application_name,
        receivers=receiver_plan.receivers,
        cores=receiver_plan.cores,
        master=receiver_plan.master,
        reason=receiver_plan.reason,
        generation=request.generation,
        assembly_jar=str(jar),
        spark_submit=render_command(request),
        notes=notes,
    )


def _placeholder_connection(spec: PipelineSpec) -> AwsConnection:
    def shown(value: str | None) -> str | None:
        return "https://<embedded>" if value == EMBEDDED else value

    return AwsConnection(
        region=spec.stream.region,
        kinesis_endpoint=shown(spec.stream.endpoint_url),
        dynamodb_endpoint=shown(spec.app_table.endpoint_url),
        cloudwatch_endpoint=shown(spec.cloudwatch_endpoint_url),
        role_arn=spec.credentials.role_arn,
    )
