"""The stream and lease-table calls against an in-process AWS (moto): what they create, what
they refuse, and the errors they raise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kinesis_pipelines.aws.dynamodb import LEASE_KEY, AppTable, release_leases
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.errors import AppTableConflictError, StreamMissingError


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {
            "kinesis": boto3.client("kinesis", region_name="us-east-1"),
            "dynamodb": boto3.client("dynamodb", region_name="us-east-1"),
        }


def test_a_missing_stream_is_created_with_its_shards_and_retention(aws: dict[str, Any]) -> None:
    stream = KinesisStream(aws["kinesis"], "orders", shards=3, retention_hours=48)
    assert stream.describe() is None
    report = stream.ensure_stream()
    assert report.created and len(report.open_shards) == 3 and report.retention_hours == 48
    again = stream.ensure_stream()
    assert not again.created and again.drift is None


def test_drift_is_reported_not_corrected(aws: dict[str, Any]) -> None:
    KinesisStream(aws["kinesis"], "orders", shards=2).ensure_stream()
    report = KinesisStream(aws["kinesis"], "orders", shards=4).ensure_stream()
    assert report.drift is not None and "4 shard(s)" in report.drift
    assert len(report.open_shards) == 2


def test_listing_a_missing_stream_says_to_deploy(aws: dict[str, Any]) -> None:
    with pytest.raises(StreamMissingError, match="deploy the pipeline"):
        KinesisStream(aws["kinesis"], "nowhere").open_shard_ids()


def test_the_lease_table_is_created_on_demand_with_kcls_schema(aws: dict[str, Any]) -> None:
    table = AppTable(aws["dynamodb"], "orders-app")
    report = table.ensure_table(["shardId-000000000000"], lambda _shard: None)
    assert report.created and report.billing_mode == "PAY_PER_REQUEST" and report.leases == []
    schema = aws["dynamodb"].describe_table(TableName="orders-app")["Table"]["KeySchema"]
    assert schema == [{"AttributeName": LEASE_KEY, "KeyType": "HASH"}]


def test_a_table_of_another_stream_is_refused_unless_reset(aws: dict[str, Any]) -> None:
    table = AppTable(aws["dynamodb"], "orders-app")
    table.ensure_table([], lambda _shard: None)
    aws["dynamodb"].put_item(
        TableName="orders-app",
        Item={LEASE_KEY: {"S": "shardId-000000000099"}, "checkpoint": {"S": "TRIM_HORIZON"},
              "leaseCounter": {"N": "3"}, "leaseOwner": {"S": "old-worker"}},
    )  # fmt: skip
    with pytest.raises(AppTableConflictError, match="never had"):
        table.ensure_table(["shardId-000000000000"], lambda _shard: None)
    report = table.ensure_table(["shardId-000000000000"], lambda _shard: None, reset=True)
    assert report.reset and report.leases == []


def test_released_leases_lose_their_owner_and_count_up(aws: dict[str, Any]) -> None:
    table = AppTable(aws["dynamodb"], "orders-app")
    table.ensure_table([], lambda _shard: None)
    for shard, owner in (("shardId-0", "w1"), ("shardId-1", None)):
        item = {LEASE_KEY: {"S": shard}, "leaseCounter": {"N": "5"}, "checkpoint": {"S": "42"}}
        if owner:
            item["leaseOwner"] = {"S": owner}
        aws["dynamodb"].put_item(TableName="orders-app", Item=item)
    assert release_leases(aws["dynamodb"], "orders-app") == 1
    leases = {lease.shard_id: lease for lease in table.leases()}
    assert leases["shardId-0"].owner is None and leases["shardId-0"].counter == 6
    assert leases["shardId-0"].checkpoint == "42"  # positions are kept
    assert leases["shardId-1"].counter == 5
