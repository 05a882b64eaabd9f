"""The pipelines' AWS resource is dagster-aws's boto3 configuration: pipelines that reach the same
place share one, their specs configure it, dagster-aws's own options reach the clients, and no AWS
key can be kept in its config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from dagster_aws.utils import ResourceWithBoto3Configuration
from moto import mock_aws
from pydantic import ValidationError

from kinesis_pipelines.aws.connection import AwsConnection, session_for
from kinesis_pipelines.orchestration.resources import (
    KinesisAwsResource,
    pipeline_resources,
    resource_key,
)
from kinesis_pipelines.spec import PipelineSpec

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def named(**config: Any) -> KinesisAwsResource:
    return KinesisAwsResource(**config)


def real_aws_spec(name: str = "orders", role: str = "pipelines") -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": name,
            "stream": {"name": f"s-{name}", "region": "eu-west-1", "shards": 3},
            "app_table": {"application_name": f"app-{name}"},
            "credentials": {
                "source": "assume_role",
                "role_arn": f"arn:aws:iam::210987654321:role/{role}",
                "external_id_env": "KP_ORDERS_EXTERNAL_ID",
            },
            "job": {"checkpoint_dir": "checkpoints", "sink": {"path": "output/orders"}},
        }
    )


def test_the_spec_configures_the_resource_and_pipelines_reaching_one_place_share_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = real_aws_spec()
    resources = pipeline_resources(spec)
    key = resource_key(spec)
    assert list(resources) == [key] and key.startswith("kinesis_aws_eu_west_1_")
    resource = resources[key]
    assert isinstance(resource, KinesisAwsResource)
    assert isinstance(resource, ResourceWithBoto3Configuration)
    assert resource.connection() == AwsConnection(
        region="eu-west-1",
        role_arn="arn:aws:iam::210987654321:role/pipelines",
        external_id_env="KP_ORDERS_EXTERNAL_ID",
        max_attempts=8,
    )
    # another pipeline through the same role and region: the same resource, the same object
    # (Dagster merges definitions by resource identity); another role: a resource of its own
    assert pipeline_resources(real_aws_spec("refunds")) == {key: resource}
    assert pipeline_resources(real_aws_spec("refunds"))[key] is resource
    assert resource_key(real_aws_spec("audit", role="auditors")) != key
    # the stream and the table are each pipeline's own, from its spec (clients are made, not used)
    refunds = real_aws_spec("refunds")
    monkeypatch.setenv("KP_ORDERS_EXTERNAL_ID", "an-external-id")
    stream, table = resource.stream(refunds), resource.table(refunds)
    assert (stream.stream_name, stream.shards, table.application_name) == ("s-refunds", 3, "app-refunds")


def test_defaults_are_the_packages_not_dagster_aws() -> None:
    stream = named()
    assert (stream.region_name, stream.max_attempts, stream.endpoint_url) == ("us-east-1", 8, None)


@pytest.mark.parametrize("field", ["aws_access_key_id", "aws_secret_access_key", "aws_session_token"])
def test_no_key_is_kept_in_config_and_a_refused_one_is_not_echoed(field: str) -> None:
    keys: dict[str, Any] = {field: SECRET}
    with pytest.raises(ValidationError) as raised:
        named(**keys)
    message = str(raised.value)
    assert f"{field}: kinesis-pipelines keeps no AWS key" in message and "role_arn" in message
    assert SECRET not in message


def test_a_key_given_through_an_env_var_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KP_TEST_SECRET_KEY", SECRET)

    @dg.asset
    def uses(table: KinesisAwsResource) -> None:
        raise AssertionError("must not run")

    with pytest.raises(ValidationError) as raised:
        table = KinesisAwsResource(aws_secret_access_key=dg.EnvVar("KP_TEST_SECRET_KEY"))
        dg.materialize([uses], resources={"table": table})
    assert "aws_secret_access_key: kinesis-pipelines keeps no AWS key" in str(raised.value)


def test_a_profile_of_the_aws_config_files_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[kp-orchestrator]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    stream = named(profile_name="kp-orchestrator")
    got = session_for(stream.connection()).get_credentials()
    assert got is not None and got.access_key == "AKIAPROFILEKEY"
    default = session_for(named().connection()).get_credentials()
    assert default is not None and default.access_key == "AKIAENVIRONMENT"


def test_use_ssl_and_verify_reach_the_client() -> None:
    plain = KinesisAwsResource(region_name="eu-west-1", use_ssl=False)
    assert plain.stream(real_aws_spec()).client.meta.endpoint_url == "http://kinesis.eu-west-1.amazonaws.com"
    assert named(verify=False).connection().tls_verify() is False
    # True keeps boto3's own (the system's certificates or AWS_CA_BUNDLE), not an explicit True
    assert named().connection().tls_verify() is None
    bundled = AwsConnection(region="us-east-1", ca_bundle="/ca.pem")
    assert bundled.tls_verify() == "/ca.pem"
    assert bundled.model_copy(update={"verify": False}).tls_verify() is False


@mock_aws
def test_the_resources_clients_reach_the_service() -> None:
    aws = KinesisAwsResource(max_attempts=3)
    spec = PipelineSpec.model_validate(
        {
            "name": "reached",
            "stream": {"name": "s-resource", "shards": 2},
            "app_table": {"application_name": "app-reached"},
            "job": {"checkpoint_dir": "checkpoints", "sink": {"path": "output/reached"}},
        }
    )
    report = aws.stream(spec).ensure_stream(timeout=10)
    assert len(aws.stream(spec).open_shard_ids()) == 2, report
    assert boto3.client("kinesis", region_name="us-east-1").list_streams()["StreamNames"] == ["s-resource"]
    # botocore counts a retries' max_attempts after the first call, as dagster-aws's own clients do
    assert aws.stream(spec).client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 4}
