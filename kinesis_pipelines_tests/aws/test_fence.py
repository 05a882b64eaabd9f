"""The fence, against an in-process AWS (moto) and the embedded DynamoDB: a takeover needs the
fence seen unchanged for the TTL on the taker's own clock, whatever the holder's clock wrote; a
renewal seen while watching means a live holder; tokens strictly increase across holders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kinesis_pipelines.aws import fence

TABLE, APP = "kp-fence", "app-one"
TTL = fence.FENCE_TTL_SECONDS


class ManualClock:
    """Monotonic time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["moto", "embedded"])
def dynamodb(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "moto":
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            fence.ensure_fence_table(client, TABLE)
            yield client
        return
    local_aws = request.getfixturevalue("local_aws")
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=local_aws.endpoint("dynamodb"),
        verify=local_aws.ca_bundle,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    fence.ensure_fence_table(client, TABLE)
    for application in (APP, "app-two"):  # one emulator per session: start from no fence
        client.delete_item(TableName=TABLE, Key={"application": {"S": application}})
    yield client


def take(client: Any, owner: str, clock: ManualClock | None = None, **kwargs: Any) -> fence.FenceState:
    clock = clock or ManualClock()
    return fence.take(client, TABLE, APP, owner, clock=clock, sleep=clock.sleep, **kwargs)


def test_the_table_is_created_once_on_demand(dynamodb: Any) -> None:
    fence.ensure_fence_table(dynamodb, TABLE)  # a second call is a no-op
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"


def test_a_free_fence_is_taken_at_once_and_renewed_by_its_holder(dynamodb: Any) -> None:
    clock = ManualClock()
    held = take(dynamodb, "driver-a", clock)
    assert (held.owner, held.token, clock.now) == ("driver-a", 1, 1000.0)
    renewed = fence.renew(dynamodb, TABLE, APP, held)
    assert renewed.version == held.version + 1 and renewed.token == held.token
    assert fence.current(dynamodb, TABLE, APP) is not None


def test_takeover_needs_the_fence_unchanged_for_the_ttl_on_the_takers_clock(dynamodb: Any) -> None:
    """The holder's wall clock says its fence expired an hour ago: nothing is taken for that."""
    dead = take(dynamodb, "driver-a")
    dynamodb.update_item(
        TableName=TABLE,
        Key={"application": {"S": APP}},
        UpdateExpression="SET expires_at = :long_ago",
        ExpressionAttributeValues={":long_ago": {"N": "1.0"}},
    )
    clock = ManualClock()
    held = take(dynamodb, "driver-b", clock)
    assert clock.now - 1000.0 > TTL  # watched for longer than the TTL first
    assert clock.now - 1000.0 < TTL + 2
    assert (held.owner, held.token) == ("driver-b", dead.token + 1)


def test_a_holder_seen_renewing_is_live_and_is_not_taken(dynamodb: Any) -> None:
    """The holder's wall clock is far behind (its expiry long past) but it renews: a taker
    refuses, without ever comparing clocks."""
    held = take(dynamodb, "driver-a")
    clock = ManualClock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - 1000.0 >= 10:
            fence.renew(dynamodb, TABLE, APP, held)

    with pytest.raises(fence.FenceHeld, match="renewed while this driver watched") as refused:
        fence.take(dynamodb, TABLE, APP, "driver-b", clock=clock, sleep=sleep)
    assert refused.value.owner == "driver-a"
    assert clock.now - 1000.0 < TTL


def test_a_taker_honours_the_holders_longer_ttl(dynamodb: Any) -> None:
    take(dynamodb, "driver-a", ttl=60.0)
    clock = ManualClock()
    take(dynamodb, "driver-b", clock, ttl=5.0)
    assert clock.now - 1000.0 > 60.0


def test_tokens_strictly_increase_across_holders_and_a_deposed_holder_cannot_renew(dynamodb: Any) -> None:
    first = take(dynamodb, "driver-a")
    assert fence.release(dynamodb, TABLE, APP, "driver-a")
    second = take(dynamodb, "driver-b")
    third = take(dynamodb, "driver-c")  # driver-b went silent: taken over after the TTL
    tokens = [first.token, second.token, third.token]
    assert tokens == sorted(set(tokens)) and tokens[0] >= 1
    with pytest.raises(fence.FenceHeld, match="taken from this driver"):
        fence.renew(dynamodb, TABLE, APP, second)
    assert fence.release(dynamodb, TABLE, APP, "driver-b") is False  # not its own any more
    assert fence.current(dynamodb, TABLE, APP) == ("driver-c", third.expires_at)


def test_the_orchestrators_check_breaks_only_a_silent_fence(dynamodb: Any) -> None:
    clock = ManualClock()
    fence.check_free(dynamodb, TABLE, APP, clock=clock, sleep=clock.sleep)  # never taken: free
    held = take(dynamodb, "driver-a")
    renewing = ManualClock()

    def sleep(seconds: float) -> None:
        renewing.sleep(seconds)
        fence.renew(dynamodb, TABLE, APP, held)

    with pytest.raises(fence.FenceHeld, match="renewed while the orchestrator watched"):
        fence.check_free(dynamodb, TABLE, APP, clock=renewing, sleep=sleep)
    fence.check_free(dynamodb, TABLE, APP, clock=clock, sleep=clock.sleep)  # silent: broken
    assert clock.now - 1000.0 > TTL
    assert fence.current(dynamodb, TABLE, APP) is None
    assert take(dynamodb, "driver-b").token == held.token + 1  # the token survives a break


def test_a_fence_written_before_versions_is_taken_over_and_released(dynamodb: Any) -> None:
    dynamodb.put_item(
        TableName=TABLE,
        Item={"application": {"S": APP}, "owner": {"S": "old"}, "expires_at": {"N": "9999999999"}},
    )
    assert fence.release(dynamodb, TABLE, APP, "old")
    dynamodb.put_item(
        TableName=TABLE,
        Item={"application": {"S": APP}, "owner": {"S": "old"}, "expires_at": {"N": "9999999999"}},
    )
    assert take(dynamodb, "driver-a").token == 1


def test_only_the_owner_releases(dynamodb: Any) -> None:
    take(dynamodb, "driver-a")
    assert fence.release(dynamodb, TABLE, APP, "driver-b") is False
    assert fence.current(dynamodb, TABLE, APP) is not None
    assert fence.release(dynamodb, TABLE, APP, "driver-a") is True
    assert fence.current(dynamodb, TABLE, APP) is None
    assert fence.release(dynamodb, TABLE, APP, "driver-a") is True  # nothing held: nothing to do


def test_applications_are_fenced_apart(dynamodb: Any) -> None:
    take(dynamodb, "driver-a")
    other = fence.take(dynamodb, TABLE, "app-two", "driver-b")
    assert other.token == 1
    assert fence.current(dynamodb, TABLE, "app-two") == ("driver-b", other.expires_at)


def test_a_stale_watch_restarts_when_the_fence_changes() -> None:
    watch = fence.StaleWatch(10.0)
    seen = fence.FenceState("a", 1, 1, 10.0, 0.0)
    assert not watch.see(seen, 0.0)
    assert not watch.see(seen, 10.0)  # not longer than the TTL yet
    renewed = fence.FenceState("a", 2, 1, 10.0, 0.0)
    assert watch.changed(renewed)
    assert not watch.see(renewed, 10.5)
    assert watch.see(renewed, 20.6)
