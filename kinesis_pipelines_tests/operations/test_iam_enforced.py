"""The orchestrator under credentials that hold only its generated policy's actions, on moto with
IAM enforcement on (moto serves Kinesis, DynamoDB and CloudWatch here, in process): every step a
deploy, a look, a dead driver's clean-up and a reshard take is allowed; with one action taken out
of the policy, that step is denied, and the error names the action.

moto's enforcement decides on the action alone (it evaluates every request against resource "*"),
so the policy's resources are widened to "*" here: this proves the actions are complete. That they
are scoped to the right ARNs is proven by e2e/test_iam_proof.py, which evaluates every recorded
call with its resource."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.cloudwatch import stream_metrics
from kinesis_pipelines.aws.connection import AwsConnection, _cached_client
from kinesis_pipelines.aws.dynamodb import release_leases
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.operations.iam import resources_of
from kinesis_pipelines.planning.iam import policy_for
from kinesis_pipelines_tests.e2e.helpers import make_spec

ACCOUNT = "123456789012"  # moto's


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    _cached_client.cache_clear()
    yield
    _cached_client.cache_clear()


def actions_only(policy: dict[str, Any]) -> dict[str, Any]:
    statements = [{"Effect": "Allow", "Action": s["Action"], "Resource": "*"} for s in policy["Statement"]]
    return {"Version": policy["Version"], "Statement": statements}


def as_user_with(policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="orchestrator")
    iam.put_user_policy(UserName="orchestrator", PolicyName="generated", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="orchestrator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    for variable in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)


def orchestrate(spec: Any) -> None:
    """What the orchestrator does to AWS, short of starting Spark."""
    backends = backends_for(spec, connection=AwsConnection(region=spec.stream.region))
    backends.store.check_owner()  # the control table: created, owner written
    backends.store.save_intent("running", by="deploy")
    report = backends.stream.ensure_stream()
    backends.app_table.ensure_table(report.all_shards, backends.stream.oldest_sequence_number)
    for shard in backends.stream.open_shard_ids():
        backends.stream.millis_behind(shard, None)
    backends.app_table.leases()
    fence.current(backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name)
    fence.release(
        backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name, "dead-driver"
    )
    release_leases(backends.dynamodb, spec.app_table.application_name)
    stream_metrics(backends.cloudwatch, spec.stream.name, time.time())
    backends.stream.update_shard_count(2)
    backends.store.record_restart(time.time())


@mock_aws
@set_initial_no_auth_action_count(3)
def test_the_generated_policy_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec("enforced", shards=1)
    as_user_with(actions_only(policy_for(resources_of(spec), "orchestrator", "aws", ACCOUNT)), monkeypatch)
    orchestrate(spec)


@mock_aws
@set_initial_no_auth_action_count(3)
def test_without_one_action_that_step_is_denied_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec("enforced", shards=1)
    policy = policy_for(resources_of(spec), "orchestrator", "aws", ACCOUNT)
    stream_statement = next(s for s in policy["Statement"] if s["Resource"].endswith(":stream/s-enforced"))
    stream_statement["Action"].remove("kinesis:CreateStream")
    as_user_with(actions_only(policy), monkeypatch)
    with pytest.raises(KinesisPipelinesError, match="CreateStream") as denied:
        orchestrate(spec)
    assert "AccessDenied" in str(denied.value) or "not authorized" in str(denied.value)
