"""The fence against an in-process AWS (moto): one owner at a time, renewal, takeover after
expiry, and a release that only its owner (or a breaker of a dead owner) can make."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kinesis_pipelines.aws import fence

TABLE, APP = "kp-fence", "app-one"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        fence.ensure_fence_table(client, TABLE)
        yield client


def test_the_table_is_created_once_on_demand(dynamodb: Any) -> None:
    fence.ensure_fence_table(dynamodb, TABLE)  # a second call is a no-op
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_a_second_owner_is_refused_while_the_first_is_live(dynamodb: Any) -> None:
    fence.acquire(dynamodb, TABLE, APP, "driver-a", now=1000.0)
    fence.acquire(dynamodb, TABLE, APP, "driver-a", now=1010.0)  # renewal by its owner
    with pytest.raises(fence.FenceHeld) as held:
        fence.acquire(dynamodb, TABLE, APP, "driver-b", now=1020.0)
    assert held.value.owner == "driver-a"
    assert fence.current(dynamodb, TABLE, APP) == ("driver-a", 1010.0 + fence.FENCE_TTL_SECONDS)


def test_an_expired_owner_is_taken_over(dynamodb: Any) -> None:
    fence.acquire(dynamodb, TABLE, APP, "driver-a", now=1000.0)
    later = 1000.0 + fence.FENCE_TTL_SECONDS + 1
    fence.acquire(dynamodb, TABLE, APP, "driver-b", now=later)
    holder = fence.current(dynamodb, TABLE, APP)
    assert holder is not None and holder[0] == "driver-b"


def test_only_the_owner_releases(dynamodb: Any) -> None:
    fence.acquire(dynamodb, TABLE, APP, "driver-a", now=1000.0)
    assert fence.release(dynamodb, TABLE, APP, "driver-b") is False
    assert fence.current(dynamodb, TABLE, APP) is not None
    assert fence.release(dynamodb, TABLE, APP, "driver-a") is True
    assert fence.current(dynamodb, TABLE, APP) is None
    assert fence.release(dynamodb, TABLE, APP, "driver-a") is True  # nothing held: nothing to do


def test_applications_are_fenced_apart(dynamodb: Any) -> None:
    fence.acquire(dynamodb, TABLE, APP, "driver-a", now=1000.0)
    fence.acquire(dynamodb, TABLE, "app-two", "driver-b", now=1000.0)
    assert fence.current(dynamodb, TABLE, "app-two") == ("driver-b", 1000.0 + fence.FENCE_TTL_SECONDS)
