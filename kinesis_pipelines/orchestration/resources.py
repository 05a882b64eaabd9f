"""A pipeline's one Dagster resource: its AWS side (the Kinesis stream and the KCL application
table) and its driver's waits, configured from its spec, and turned back into the operations'
backends in one typed place. The spec itself is held once, by the definitions that use it.

The config is dagster-aws's `ResourceWithBoto3Configuration` (region_name, endpoint_url,
max_attempts, profile_name, use_ssl, verify), so the resource reads like every other boto3 resource
of a Dagster deployment, plus the pipeline's assumed role. Two things differ from the base, on
purpose: an endpoint may be `embedded` (the embedded local AWS, resolved late), and the base's
static key fields (aws_access_key_id, aws_secret_access_key, aws_session_token) are refused.
Credentials come from the AWS default chain, a profile, or an assumed role, exactly as the driver's
do, so no key is kept in Dagster's config, shown in the UI or written into a driver's files.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from kinesis_pipelines.aws.connection import AwsConnection, connect, make_client
from kinesis_pipelines.aws.dynamodb import AppTable
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.launch import launcher_for
from kinesis_pipelines.operations import Backends
from kinesis_pipelines.operations.backends import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS
from kinesis_pipelines.spec import PipelineSpec

STATIC_KEY_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


class KinesisPipelineResource(ResourceWithBoto3Configuration):
    """One pipeline's Kinesis stream and KCL application (lease and checkpoint) table, and how long
    its driver may take to start and to stop. Holds no secret: credentials come from the default
    AWS chain (or `profile_name`) or an assumed role."""

    # a refused value is never echoed in the validation error (it may be a key)
    model_config = ConfigDict(hide_input_in_errors=True)

    region_name: str = Field(default="us-east-1", description="AWS region of the stream and the table.")
    endpoint_url: str | None = Field(
        default=None,
        description="Kinesis endpoint override: a URL, 'embedded' for the embedded local AWS, or none.",
    )
    app_table_endpoint_url: str | None = Field(
        default=None, description="DynamoDB endpoint override for the application table, as endpoint_url."
    )
    max_attempts: int = Field(default=8, description="boto3 attempts per call (adaptive back-off).")
    role_arn: str | None = Field(default=None, description="Role to assume; none uses the default chain.")
    session_name: str = Field(default="kinesis-pipelines", description="STS session name.")
    session_duration_seconds: int = Field(
        default=3600, description="Seconds each assumed-role session lasts."
    )
    external_id_env: str | None = Field(default=None, description="Env var holding the STS external id.")
    stream_name: str = Field(description="Kinesis stream name.")
    shards: int = Field(default=1, description="Open shards to create the stream with.")
    capacity_mode: str = Field(default="PROVISIONED", description="PROVISIONED or ON_DEMAND.")
    retention_hours: int = Field(default=24, description="Retention to create the stream with.")
    application_name: str = Field(description="KCL application name = DynamoDB table name.")
    stop_timeout_seconds: float = Field(
        default=STOP_TIMEOUT_SECONDS, description="Graceful stop wait before a kill."
    )
    start_timeout_seconds: float = Field(
        default=START_TIMEOUT_SECONDS, description="Wait for the driver to come up."
    )

    @field_validator(*STATIC_KEY_FIELDS)
    @classmethod
    def _no_static_keys(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(
                f"{info.field_name}: kinesis-pipelines keeps no AWS key in its resources' config; "
                "leave it unset and give credentials through the AWS default chain "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, AWS_PROFILE, "
                "or the instance profile), profile_name, or role_arn"
            )
        return value

    def connection(self) -> AwsConnection:
        return connect(
            self.region_name,
            {"kinesis": self.endpoint_url, "dynamodb": self.app_table_endpoint_url},
            role_arn=self.role_arn,
            session_name=self.session_name,
            session_duration_seconds=self.session_duration_seconds,
            external_id_env=self.external_id_env,
            max_attempts=self.max_attempts,
            profile_name=self.profile_name,
            use_ssl=self.use_ssl,
            verify=self.verify is not False,
        )

    def stream(self) -> KinesisStream:
        return KinesisStream(
            make_client("kinesis", self.connection()),
            self.stream_name,
            shards=self.shards,
            capacity_mode=self.capacity_mode,
            retention_hours=self.retention_hours,
        )

    def table(self) -> AppTable:
        return AppTable(make_client("dynamodb", self.connection()), self.application_name)


def resource_key(pipeline: str) -> str:
    return f"{pipeline}__pipeline"


def pipeline_resources(spec: PipelineSpec) -> dict[str, Any]:
    """The pipeline's one resource, keyed by the pipeline, configured from its spec."""
    return {
        resource_key(spec.name): KinesisPipelineResource(
            region_name=spec.stream.region,
            endpoint_url=spec.stream.endpoint_url,
            app_table_endpoint_url=spec.app_table.endpoint_url,
            role_arn=spec.credentials.role_arn,
            session_name=spec.credentials.session_name,
            session_duration_seconds=spec.credentials.session_duration_seconds,
            external_id_env=spec.credentials.external_id_env,
            stream_name=spec.stream.name,
            shards=spec.stream.shards,
            capacity_mode=spec.stream.capacity_mode.value,
            retention_hours=spec.stream.retention_hours,
            application_name=spec.app_table.application_name,
        )
    }


def backends_from(context: Any, spec: PipelineSpec) -> Backends:
    """The operations' backends from the pipeline's resource in a Dagster context (asset, op,
    check, sensor or schedule)."""
    key = resource_key(spec.name)
    resource = getattr(context.resources, key, None)
    if not isinstance(resource, KinesisPipelineResource):
        raise dg.DagsterInvariantViolationError(
            f"resource {key!r} should be a KinesisPipelineResource, got {type(resource).__name__}; "
            "bind it with kinesis_pipelines.orchestration.resources.pipeline_resources"
        )
    return Backends(
        spec,
        launcher=launcher_for(spec),
        stream=resource.stream(),
        app_table=resource.table(),
        stop_timeout_seconds=resource.stop_timeout_seconds,
        start_timeout_seconds=resource.start_timeout_seconds,
    )
