"""The AWS side of the pipelines as one Dagster resource per place they reach: pipelines with the
same region, endpoints and role share one `KinesisAwsResource`, keyed by what it holds
(`resource_key`), and each pipeline's stream and application table come from its spec, which the
definitions hold once. A code location of 100 pipelines in one account and region has one
resource, not 100: Dagster binds every resource to every asset, so the count matters.

The config is dagster-aws's `ResourceWithBoto3Configuration` (region_name, endpoint_url,
max_attempts, profile_name, use_ssl, verify), so the resource reads like every other boto3 resource
of a Dagster deployment, plus the pipelines' assumed role. Two things differ from the base, on
purpose: an endpoint may be `embedded` (the embedded local AWS, resolved late), and the base's
static key fields (aws_access_key_id, aws_secret_access_key, aws_session_token) are refused.
Credentials come from the AWS default chain, a profile, or an assumed role, exactly as the driver's
do, so no key is kept in Dagster's config, shown in the UI or written into a driver's files.
"""

from __future__ import annotations

import hashlib
import json
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


class KinesisAwsResource(ResourceWithBoto3Configuration):
    """How the pipelines that share it reach Kinesis and DynamoDB, and how long their drivers may
    take to start and to stop. Holds no secret: credentials come from the default AWS chain (or
    `profile_name`) or an assumed role."""

    # a refused value is never echoed in the validation error (it may be a key)
    model_config = ConfigDict(hide_input_in_errors=True)

    region_name: str = Field(default="us-east-1", description="AWS region of the streams and tables.")
    endpoint_url: str | None = Field(
        default=None,
        description="Kinesis endpoint override: a URL, 'embedded' for the embedded local AWS, or none.",
    )
    app_table_endpoint_url: str | None = Field(
        default=None, description="DynamoDB endpoint override for the application tables, as endpoint_url."
    )
    max_attempts: int = Field(default=8, description="boto3 attempts per call (adaptive back-off).")
    role_arn: str | None = Field(default=None, description="Role to assume; none uses the default chain.")
    session_name: str = Field(default="kinesis-pipelines", description="STS session name.")
    session_duration_seconds: int = Field(
        default=3600, description="Seconds each assumed-role session lasts."
    )
    external_id_env: str | None = Field(default=None, description="Env var holding the STS external id.")
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

    def stream(self, spec: PipelineSpec) -> KinesisStream:
        """The pipeline's stream, created (when missing) with its spec's shards and retention."""
        return KinesisStream.for_spec(spec, make_client("kinesis", self.connection()))

    def table(self, spec: PipelineSpec) -> AppTable:
        """The pipeline's KCL application (lease and checkpoint) table."""
        return AppTable(make_client("dynamodb", self.connection()), spec.app_table.application_name)


def _settings(spec: PipelineSpec) -> dict[str, Any]:
    """What the pipeline's AWS resource holds, from its spec."""
    return {
        "region_name": spec.stream.region,
        "endpoint_url": spec.stream.endpoint_url,
        "app_table_endpoint_url": spec.app_table.endpoint_url,
        "role_arn": spec.credentials.role_arn,
        "session_name": spec.credentials.session_name,
        "session_duration_seconds": spec.credentials.session_duration_seconds,
        "external_id_env": spec.credentials.external_id_env,
    }


def resource_key(spec: PipelineSpec) -> str:
    """The key of the resource the pipeline uses: its region and a digest of what else the resource
    holds, the same in every process that loads the spec."""
    settings = _settings(spec)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return f"kinesis_aws_{spec.stream.region.replace('-', '_')}_{digest}"


_SHARED: dict[str, KinesisAwsResource] = {}


def pipeline_resources(spec: PipelineSpec) -> dict[str, Any]:
    """The pipeline's resource under its key: one object for every pipeline of this process with the
    same settings (Dagster merges definitions by the identity of their resources)."""
    key = resource_key(spec)
    if key not in _SHARED:
        _SHARED[key] = KinesisAwsResource(**_settings(spec))
    return {key: _SHARED[key]}


def backends_from(context: Any, spec: PipelineSpec) -> Backends:
    """The operations' backends from the pipeline's resource in a Dagster context (asset, op,
    check, sensor or schedule)."""
    key = resource_key(spec)
    resource = getattr(context.resources, key, None)
    if not isinstance(resource, KinesisAwsResource):
        raise dg.DagsterInvariantViolationError(
            f"resource {key!r} should be a KinesisAwsResource, got {type(resource).__name__}; "
            "bind it with kinesis_pipelines.orchestration.resources.pipeline_resources"
        )
    return Backends(
        spec,
        launcher=launcher_for(spec),
        stream=resource.stream(spec),
        app_table=resource.table(spec),
        stop_timeout_seconds=resource.stop_timeout_seconds,
        start_timeout_seconds=resource.start_timeout_seconds,
    )
