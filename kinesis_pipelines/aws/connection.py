"""Resolving where AWS is for a pipeline, and the one boto3 client factory.

Endpoints in a spec are a URL, `embedded` (the embedded local AWS, resolved late from its state
file) or absent (AWS itself). Credentials always come from the default chain or an assumed role.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.spec import EMBEDDED, PipelineSpec

# Emulators accept any credentials; these are used only for an embedded endpoint and only when
# the environment has none, so nothing real is ever replaced.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class AwsConnection(BaseModel):
    """Where each AWS service is for one pipeline, and how to trust and authenticate to it."""

    model_config = ConfigDict(frozen=True)

    region: str
    kinesis_endpoint: str | None = None
    dynamodb_endpoint: str | None = None
    cloudwatch_endpoint: str | None = None
    ca_bundle: str | None = None
    java_truststore: str | None = None
    role_arn: str | None = None
    session_name: str = "kinesis-pipelines"
    external_id_env: str | None = None
    embedded: bool = False
    max_attempts: int = 8

    def kinesis_url(self) -> str:
        """The Kinesis endpoint the receivers are given (the connector needs a URL)."""
        return self.kinesis_endpoint or f"https://kinesis.{self.region}.amazonaws.com"

    def credential_env(self) -> dict[str, str]:
        """Env vars a child process needs for the default chain: only the emulators' fakes."""
        if self.embedded and not os.environ.get("AWS_ACCESS_KEY_ID"):
            return dict(EMULATOR_CREDENTIALS)
        return {}


def resolve_connection(spec: PipelineSpec) -> AwsConnection:
    """Turn a spec's endpoints into URLs; reads the embedded AWS's state only if asked for."""
    wanted = {
        "kinesis": spec.stream.endpoint_url,
        "dynamodb": spec.app_table.endpoint_url,
        "cloudwatch": spec.cloudwatch_endpoint_url,
    }
    embedded = EMBEDDED in wanted.values()
    resolved: dict[str, str | None] = dict(wanted)
    ca_bundle = truststore = None
    if embedded:
        from kinesis_pipelines.emulators.local_aws import running_state

        state = running_state()
        resolved = {k: state.endpoint(k) if v == EMBEDDED else v for k, v in wanted.items()}
        ca_bundle, truststore = state.ca_bundle, state.java_truststore
    return AwsConnection(
        region=spec.stream.region,
        kinesis_endpoint=resolved["kinesis"],
        dynamodb_endpoint=resolved["dynamodb"],
        cloudwatch_endpoint=resolved["cloudwatch"],
        ca_bundle=ca_bundle,
        java_truststore=truststore,
        role_arn=spec.credentials.role_arn,
        session_name=spec.credentials.session_name,
        external_id_env=spec.credentials.external_id_env,
        embedded=embedded,
    )


def make_client(service: str, connection: AwsConnection) -> Any:
    """A boto3 client for `service` with the connection's region, endpoint, trust, credentials,
    and adaptive retries that back off (throttling included)."""
    endpoint = {
        "kinesis": connection.kinesis_endpoint,
        "dynamodb": connection.dynamodb_endpoint,
        "cloudwatch": connection.cloudwatch_endpoint,
    }.get(service)
    config = Config(
        retries={"mode": "adaptive", "max_attempts": connection.max_attempts},
        connect_timeout=5,
        read_timeout=30,
    )
    credentials = _session_credentials(connection)
    session = boto3.session.Session(region_name=connection.region, **credentials)
    kwargs: dict[str, Any] = {"config": config}
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    if connection.ca_bundle:
        kwargs["verify"] = connection.ca_bundle
    return session.client(service, **kwargs)


def _session_credentials(connection: AwsConnection) -> dict[str, str]:
    if connection.embedded and not os.environ.get("AWS_ACCESS_KEY_ID"):
        return {
            "aws_access_key_id": EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
    if connection.role_arn is None:
        return {}
    sts = boto3.client("sts", region_name=connection.region)
    params: dict[str, Any] = {
        "RoleArn": connection.role_arn,
        "RoleSessionName": connection.session_name,
    }
    if connection.external_id_env:
        params["ExternalId"] = os.environ[connection.external_id_env]
    creds = sts.assume_role(**params)["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
