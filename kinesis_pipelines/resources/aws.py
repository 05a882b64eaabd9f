"""The shared base of the AWS-backed resources: documented config plus one client factory.

The config is dagster-aws's `ResourceWithBoto3Configuration` (region_name, endpoint_url,
max_attempts, profile_name, use_ssl, verify), so the resources read like every other boto3 resource
of a Dagster deployment, plus the pipeline's assumed role. Two things differ from the base, on
purpose: `endpoint_url` may be `embedded` (the embedded local AWS, resolved late), and the base's
static key fields (aws_access_key_id, aws_secret_access_key, aws_session_token) are refused.
Credentials come from the AWS default chain, a profile, or an assumed role, exactly as the driver's
do, so no key is kept in Dagster's config, shown in the UI or written into a driver's files.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from kinesis_pipelines.aws.connection import AwsConnection, Service, connect, make_client

STATIC_KEY_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


class AwsServiceResource(ResourceWithBoto3Configuration):
    """Region, endpoint and credentials source of one AWS service. Holds no secret: credentials
    come from the default AWS chain (or `profile_name`) or an assumed role."""

    # a refused value is never echoed in the validation error (it may be a key)
    model_config = ConfigDict(hide_input_in_errors=True)

    region_name: str = Field(default="us-east-1", description="AWS region.")
    endpoint_url: str | None = Field(
        default=None, description="Endpoint override: a URL, 'embedded' for the embedded local AWS, or none."
    )
    max_attempts: int = Field(default=8, description="boto3 attempts per call (adaptive back-off).")
    role_arn: str | None = Field(default=None, description="Role to assume; none uses the default chain.")
    session_name: str = Field(default="kinesis-pipelines", description="STS session name.")
    session_duration_seconds: int = Field(
        default=3600, description="Seconds each assumed-role session lasts."
    )
    external_id_env: str | None = Field(default=None, description="Env var holding the STS external id.")

    service: ClassVar[Service]

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
            {self.service: self.endpoint_url},
            role_arn=self.role_arn,
            session_name=self.session_name,
            session_duration_seconds=self.session_duration_seconds,
            external_id_env=self.external_id_env,
            max_attempts=self.max_attempts,
            profile_name=self.profile_name,
            use_ssl=self.use_ssl,
            verify=self.verify is not False,
        )

    def client(self) -> Any:
        """The boto3 client (cached per connection by `make_client`)."""
        return make_client(self.service, self.connection())
