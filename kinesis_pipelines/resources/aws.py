"""The shared base of the AWS-backed resources: documented config plus one client factory."""

from __future__ import annotations

from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from kinesis_pipelines.aws.connection import AwsConnection, Service, connect, make_client


class AwsServiceResource(dg.ConfigurableResource):
    """Region, endpoint and credentials source of one AWS service. Holds no secret: credentials
    come from the default AWS chain or an assumed role."""

    region_name: str = Field("us-east-1", description="AWS region.")
    endpoint_url: str | None = Field(
        None, description="Endpoint override: a URL, 'embedded' for the embedded local AWS, or none."
    )
    role_arn: str | None = Field(None, description="Role to assume; none uses the default chain.")
    session_name: str = Field("kinesis-pipelines", description="STS session name.")
    session_duration_seconds: int = Field(3600, description="Seconds each assumed-role session lasts.")
    external_id_env: str | None = Field(None, description="Env var holding the STS external id.")
    max_attempts: int = Field(8, description="boto3 attempts per call (adaptive back-off).")

    service: ClassVar[Service]

    def connection(self) -> AwsConnection:
        return connect(
            self.region_name,
            {self.service: self.endpoint_url},
            role_arn=self.role_arn,
            session_name=self.session_name,
            session_duration_seconds=self.session_duration_seconds,
            external_id_env=self.external_id_env,
            max_attempts=self.max_attempts,
        )

    def client(self) -> Any:
        """The boto3 client (cached per connection by `make_client`)."""
        return make_client(self.service, self.connection())
