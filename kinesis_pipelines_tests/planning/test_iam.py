"""The generated IAM policies: exact ARNs in the right partition, "*" only where IAM allows
nothing narrower, clean under the linter, and an evaluation that allows the pipeline's own
resources and denies another pipeline's."""

from __future__ import annotations

import warnings
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

from kinesis_pipelines.operations.iam import resources_of
from kinesis_pipelines.planning.iam import (
    DRIVER_ACTIONS,
    ORCHESTRATOR_ACTIONS,
    PRODUCER_ACTIONS,
    WILDCARD_ONLY,
    pipeline_arns,
    policy_for,
)
from kinesis_pipelines_tests.e2e.helpers import make_spec

ACCOUNT = "123456789012"


def allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    import json

    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource) is PermissionResult.PERMITTED


def resource_types(action: str) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from parliament import iam_definition  # type: ignore[import-untyped]
    prefix, name = action.split(":")
    service = next(s for s in iam_definition if s["prefix"] == prefix)
    privilege = next(p for p in service["privileges"] if p["privilege"] == name)
    return [r["resource_type"] for r in privilege["resource_types"]]


def test_wildcard_only_actions_are_exactly_those_iam_scopes_to_nothing() -> None:
    every = {
        a
        for table in (ORCHESTRATOR_ACTIONS, DRIVER_ACTIONS, PRODUCER_ACTIONS)
        for v in table.values()
        for a in v
    }
    assert {action for action in every if resource_types(action) == [""]} == set(WILDCARD_ONLY)


def test_each_role_gets_its_own_actions_on_exact_arns() -> None:
    spec = make_spec("orders", shards=2)
    arns = pipeline_arns(resources_of(spec), "aws", ACCOUNT)
    assert arns.stream == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s-orders"
    orchestrator = policy_for(resources_of(spec), "orchestrator", "aws", ACCOUNT)
    driver = policy_for(resources_of(spec), "driver", "aws", ACCOUNT)
    producer = policy_for(resources_of(spec), "producer", "aws", ACCOUNT)
    assert allowed(orchestrator, "kinesis:CreateStream", arns.stream)
    assert allowed(orchestrator, "kinesis:UpdateShardCount", arns.stream)
    assert not allowed(orchestrator, "kinesis:PutRecords", arns.stream)  # only the producer writes
    assert allowed(producer, "kinesis:PutRecords", arns.stream)
    assert not allowed(driver, "kinesis:CreateStream", arns.stream)
    assert allowed(driver, "dynamodb:UpdateItem", arns.lease_table)
    assert allowed(driver, "dynamodb:PutItem", arns.fence_table)
    assert allowed(orchestrator, "dynamodb:PutItem", arns.fence_table)  # the control records
    assert not allowed(orchestrator, "dynamodb:PutItem", arns.lease_table)  # KCL's own items
    assert not allowed(driver, "dynamodb:DeleteTable", arns.lease_table)


def test_another_pipelines_resources_are_denied() -> None:
    spec, other = make_spec("orders", shards=2), make_spec("payments", shards=2)
    mine, theirs = (
        pipeline_arns(resources_of(spec), "aws", ACCOUNT),
        pipeline_arns(resources_of(other), "aws", ACCOUNT),
    )
    for role in ("orchestrator", "driver"):
        policy = policy_for(resources_of(spec), role, "aws", ACCOUNT)
        assert allowed(policy, "kinesis:GetShardIterator", mine.stream)
        assert not allowed(policy, "kinesis:GetShardIterator", theirs.stream)
        assert not allowed(policy, "dynamodb:Scan", theirs.lease_table)
        assert not allowed(policy, "dynamodb:DescribeTable", mine.stream)  # the wrong kind of ARN
    other_account = policy_for(resources_of(spec), "driver", "aws", "210987654321")
    assert not allowed(other_account, "kinesis:GetRecords", mine.stream)


def test_items_of_the_shared_fence_table_are_limited_to_the_pipelines_own_keys() -> None:
    spec = make_spec("orders", shards=1)
    policy = policy_for(resources_of(spec), "driver", "aws", ACCOUNT)
    items = next(s for s in policy["Statement"] if s["Sid"].endswith("FenceTableItems"))
    assert set(items["Action"]) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert items["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["app-orders", "app-orders#*"]}
    }
