"""Assuming the pipeline's role, checked before anything is created, against moto with IAM
enforcement on: the caller's own policy decides whether it may assume the role."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from kinesis_pipelines.aws.connection import AwsConnection, _cached_client, check_credentials
from kinesis_pipelines.errors import AwsError, SpecError

ROLE = "arn:aws:iam::123456789012:role/kp-pipeline"


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    _cached_client.cache_clear()
    yield
    _cached_client.cache_clear()


def caller_with(actions: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An IAM user whose only policy allows `actions`, as this process's credentials."""
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="orchestrator")
    iam.put_user_policy(
        UserName="orchestrator",
        PolicyName="only",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="orchestrator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    for variable in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)


@mock_aws
@set_initial_no_auth_action_count(3)  # the three IAM calls above; enforced from then on
def test_a_role_the_caller_may_not_assume_is_named_before_anything_is_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caller_with(["kinesis:*", "dynamodb:*"], monkeypatch)
    with pytest.raises(
        AwsError, match=r"cannot assume the role arn:aws:iam::123456789012:role/kp-pipeline .*AccessDenied"
    ):
        check_credentials(AwsConnection(region="us-east-1", role_arn=ROLE))


@mock_aws
@set_initial_no_auth_action_count(3)
def test_a_role_the_caller_may_assume_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    caller_with(["sts:AssumeRole"], monkeypatch)
    check_credentials(AwsConnection(region="us-east-1", role_arn=ROLE))


def test_a_missing_external_id_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KP_ORDERS_EXTERNAL_ID", raising=False)
    connection = AwsConnection(region="us-east-1", role_arn=ROLE, external_id_env="KP_ORDERS_EXTERNAL_ID")
    with pytest.raises(SpecError, match="external_id_env names KP_ORDERS_EXTERNAL_ID, which is not set"):
        check_credentials(connection)
