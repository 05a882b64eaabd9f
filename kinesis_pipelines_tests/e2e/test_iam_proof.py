"""Proof that the generated IAM policies are enough, and no more than needed.

Recording proxies sit in front of each emulator (Kinesis, DynamoDB, CloudWatch) while a pipeline
is deployed, runs, is restarted and is rebalanced. Every call is recorded with its operation, its
resource and its user agent. That tells the orchestrator's boto3 clients, the driver's (its fence
client, and KCL in the receivers) and the test's producer apart. Each call is then evaluated
against the generated policy of the role that made it, by moto's IAM policy engine: every call must
be allowed. The same calls on another pipeline's resources must be denied."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.iam.access_control import IAMPolicy, PermissionResult

from kinesis_pipelines import operations
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.operations.iam import resources_of
from kinesis_pipelines.planning.iam import ITEM_ACTIONS, WILDCARD_ONLY, pipeline_arns, policy_for
from kinesis_pipelines.planning.reshard import Metrics
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, wait_all_out
from kinesis_pipelines_tests.support.proxies import emulator_proxies

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
PRODUCER_AGENT = "kinesis-pipelines-test-producer"
IAM_PREFIX = {"kinesis": "kinesis", "dynamodb": "dynamodb", "cloudwatch": "cloudwatch"}


@pytest.fixture
def recorded(local_aws, tmp_path: Path, monkeypatch) -> Iterator[tuple[dict[str, str], Path]]:
    monkeypatch.setenv("AWS_CA_BUNDLE", local_aws.ca_bundle)
    calls = tmp_path / "calls.jsonl"
    services = ("kinesis", "dynamodb", "cloudwatch")
    with emulator_proxies(local_aws, tmp_path, services, record=calls) as urls:
        yield urls, calls


def role_of(user_agent: str) -> str | None:
    if "(orchestrator)" in user_agent:
        return "orchestrator"
    if "(driver)" in user_agent or "amazon-kinesis-client-library" in user_agent:
        return "driver"
    if PRODUCER_AGENT in user_agent:
        return "producer"
    return None


def arn_of(call: dict[str, str], arns: Any, swap: dict[str, str] | None = None) -> str:
    service, name = call["service"], call["resource"].rsplit("/", 1)[-1]
    if service == "kinesis" and call["operation"] == "GetRecords":
        # a shard iterator names no stream; IAM authorizes GetRecords on the stream the iterator
        # was taken for, and only this pipeline's stream is reached through these proxies
        name = arns.stream.rsplit("/", 1)[1]
    name = (swap or {}).get(name, name)
    if service == "kinesis" and name:
        return f"arn:aws:kinesis:{arns.region}:{ACCOUNT}:stream/{name}"
    if service == "dynamodb" and name:
        return f"arn:aws:dynamodb:{arns.region}:{ACCOUNT}:table/{name}"
    return "*"


def permitted(policy: dict[str, Any], action: str, resource: str) -> bool:
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource) is PermissionResult.PERMITTED


def test_every_recorded_call_is_allowed_by_its_roles_policy(recorded, assembly_jar, cleanup_drivers) -> None:
    urls, calls_file = recorded
    spec = make_spec("iam_proof", shards=1, executor_cores=4)
    spec = spec.model_copy(
        update={
            "stream": spec.stream.model_copy(update={"endpoint_url": urls["kinesis"]}),
            "app_table": spec.app_table.model_copy(update={"endpoint_url": urls["dynamodb"]}),
            "cloudwatch_endpoint_url": urls["cloudwatch"],
        }
    )
    cleanup_drivers.append(spec)
    embedded = operations.backends_for(make_spec("iam_proof", shards=1)).connection
    connection = AwsConnection(
        region=spec.stream.region,
        endpoints={
            "kinesis": urls["kinesis"],
            "dynamodb": urls["dynamodb"],
            "cloudwatch": urls["cloudwatch"],
        },
        ca_bundle=embedded.ca_bundle,
        java_truststore=embedded.java_truststore,  # the JVM trusts the proxies' certificate too
        embedded=True,
    )
    backends = operations.backends_for(spec, connection=connection)
    producer = boto3.client(
        "kinesis",
        region_name=spec.stream.region,
        endpoint_url=urls["kinesis"],
        config=Config(user_agent_extra=PRODUCER_AGENT),
    )

    # a deploy and a run
    deployed = operations.deploy(spec, backends)
    assert deployed.job.record is not None
    ids = unique_ids("iam", 600)
    put_all(producer, spec.stream.name, ids[:200])
    assert wait_all_out(spec, ids[:200]).lost == 0
    operations.supervise(spec, backends)
    # a restart from the checkpoint
    restarted = operations.restart(spec, backends)
    assert restarted.action == "restarted", restarted
    put_all(producer, spec.stream.name, ids[200:400])
    assert wait_all_out(spec, ids[:400]).lost == 0
    # a rebalance: measured, planned against a load two shards need, applied, the job rolled
    operations.measure(spec, backends, now=time.time())
    load = Metrics(incoming_records_per_s=1_500.0, source="test")
    outcome = operations.rebalance(spec, backends, now=time.time(), metrics=load)
    assert outcome.applied and outcome.plan is not None and outcome.plan.shards_after > 1, outcome
    put_all(producer, spec.stream.name, ids[400:])
    tally = wait_all_out(spec, ids, timeout=240)
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    operations.stop(spec, backends)

    calls = [json.loads(line) for line in calls_file.read_text().splitlines()]
    by_role: dict[str, set[tuple[str, str]]] = {}
    unknown = [call for call in calls if role_of(call["user_agent"]) is None]
    assert not unknown, f"calls from no known component: {unknown[:3]}"
    arns = pipeline_arns(resources_of(spec), "aws", ACCOUNT)
    denied = []
    for call in calls:
        role = role_of(call["user_agent"])
        assert role is not None
        action = f"{IAM_PREFIX[call['service']]}:{call['operation']}"
        resource = arn_of(call, arns)
        by_role.setdefault(role, set()).add((action, resource))
        if not permitted(policy_for(resources_of(spec), role, "aws", ACCOUNT), action, resource):  # type: ignore[arg-type]
            denied.append((role, action, resource))
        if action == "cloudwatch:PutMetricData":  # the policy's condition: KCL's own namespace
            assert call["namespace"] == spec.app_table.application_name, call
        if resource == arns.fence_table and action in ITEM_ACTIONS:  # the LeadingKeys condition
            application = spec.app_table.application_name
            for key in call["item_key"].split(","):  # a BatchGetItem reads several
                assert key == application or key.startswith(f"{application}#"), call
    for role, actions in sorted(by_role.items()):
        print(f"{role}: {len(actions)} distinct action/resource pairs")
        for action, resource in sorted(actions):
            print(f"  {action} {resource}")
    assert not denied, f"calls the generated policies do not allow: {sorted(set(denied))}"
    assert {"orchestrator", "driver", "producer"} <= by_role.keys()
    assert ("kinesis:GetRecords", arns.stream) in by_role["driver"]
    assert ("kinesis:UpdateShardCount", arns.stream) in by_role["orchestrator"]

    # the evaluation can fail: the same calls on another pipeline's stream and tables are denied
    other = pipeline_arns(resources_of(make_spec("someone_else", shards=1)), "aws", ACCOUNT)
    swap = {
        spec.stream.name: other.stream.rsplit("/", 1)[1],
        spec.app_table.application_name: other.lease_table.rsplit("/", 1)[1],
        spec.supervision.fence_table: "another-fence-table",
    }
    for call in calls:
        role = role_of(call["user_agent"])
        action = f"{IAM_PREFIX[call['service']]}:{call['operation']}"
        if action in WILDCARD_ONLY or arn_of(call, arns) == "*":
            continue
        policy = policy_for(resources_of(spec), role, "aws", ACCOUNT)  # type: ignore[arg-type]
        assert not permitted(policy, action, arn_of(call, arns, swap)), (role, action)
