"""Never two drivers for one KCL application: a versioned lease in DynamoDB, one item per
application in its own small table (not KCL's lease table, whose every item KCL treats as a
shard lease).

No decision compares two hosts' clocks. Every write increments the item's `version`; a holder
renews by incrementing it. A taker treats the fence as abandoned only once it has itself seen
the same (owner, version, token) unchanged for longer than the TTL on its own monotonic clock
(`StaleWatch`), and then takes it with a condition on the version it saw, so a renewal in
between makes the take fail. The holder stops writing well within the TTL of its last renewal
(app/fencing.py), so a taker's wait covers it.

Each new holder gets `token` = the previous token + 1: a fencing token, strictly increasing per
application across holders (a release keeps the item and its token, it only clears the owner).
Output published under a token lets a reader, or a newer driver, refuse an older holder's.

`expires_at` (the holder's wall clock + TTL) is still written, for people and for `current`;
nothing here decides on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kinesis_pipelines.aws.errors import AWS_FAILURES, aws_error, has_code
from kinesis_pipelines.errors import AwsError

FENCE_TTL_SECONDS = 30.0
FENCED_EXIT_CODE = 3
_POLL_SECONDS = 1.0


class FenceHeld(AwsError):
    """Another driver holds the fence (or took it from this one)."""

    def __init__(self, owner: str, detail: str = "") -> None:
        super().__init__(
            f"kinesis-pipelines fence held by {owner}{': ' + detail if detail else ''}: another driver "
            "runs this application; stop it first"
        )
        self.owner = owner


@dataclass(frozen=True)
class FenceState:
    """One read of the fence item. `owner` None: released (free), the token kept."""

    owner: str | None
    version: int
    token: int
    ttl_seconds: float
    expires_at: float  # the writer's wall clock + TTL: informational only
    sent_at: float = 0.0  # a take's: the taker's monotonic clock as it sent the write

    @property
    def seen_as(self) -> tuple[str | None, int, int]:
        return self.owner, self.version, self.token


class StaleWatch:
    """Pure: whether a fence has been seen unchanged for longer than its TTL, on the caller's
    own monotonic clock (`now` passed in). A changed fence restarts the watch."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self.seen: tuple[str | None, int, int] | None = None
        self.since = 0.0

    def see(self, state: FenceState, now: float) -> bool:
        """Record a read made at `now`; True once this same state has outlived the TTL
        (the larger of the watcher's and the one the holder wrote)."""
        if state.seen_as != self.seen:
            self.seen, self.since = state.seen_as, now
            return False
        return now - self.since > max(self.ttl, state.ttl_seconds)

    def changed(self, state: FenceState) -> bool:
        return self.seen is not None and state.seen_as != self.seen


def ensure_fence_table(client: Any, table: str) -> None:
    try:
        client.describe_table(TableName=table)
        return
    except AWS_FAILURES as exc:
        if not has_code(exc, "ResourceNotFoundException"):
            raise aws_error(exc, f"describing the fence table {table!r}", "dynamodb") from exc
    try:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "application", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "application", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except AWS_FAILURES as exc:
        if not has_code(exc, "ResourceInUseException"):
            raise aws_error(exc, f"creating the fence table {table!r}", "dynamodb") from exc
    for _ in range(100):
        if client.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.2)


def read(client: Any, table: str, application: str) -> FenceState | None:
    """The fence item as it is now (a consistent read); None if never written."""
    item = client.get_item(TableName=table, Key={"application": {"S": application}}, ConsistentRead=True).get(
        "Item"
    )
    if not item:
        return None
    return FenceState(
        owner=item["owner"]["S"] if "owner" in item else None,
        version=int(item.get("version", {}).get("N", "0")),
        token=int(item.get("token", {}).get("N", "0")),
        ttl_seconds=float(item.get("ttl_seconds", {}).get("N", f"{FENCE_TTL_SECONDS}")),
        expires_at=float(item.get("expires_at", {}).get("N", "0")),
    )


def current(client: Any, table: str, application: str) -> tuple[str, float] | None:
    """The holder and its wall-clock expiry, for display; None if free. Never decide on the
    expiry: use `check_free` (orchestrator) or `take` (driver)."""
    state = read(client, table, application)
    if state is None or state.owner is None:
        return None
    return state.owner, state.expires_at


def _write(
    client: Any, table: str, application: str, owner: str, seen: FenceState | None, ttl: float, sent_at: float
) -> FenceState:
    """Become the holder, on condition that the item is still exactly as `seen` (absent if None).
    FenceHeld if it changed in between."""
    version, token = (seen.version, seen.token) if seen else (0, 0)
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if seen is None:
        condition = "attribute_not_exists(application)"
    elif seen.version:
        condition, names["#v"], values[":v"] = "#v = :v", "version", {"N": str(version)}
    else:  # an item written before versions
        names.update({"#v": "version", "#o": "owner"})
        condition = "attribute_not_exists(#v) AND attribute_not_exists(#o)"
        if seen.owner is not None:
            condition, values[":holder"] = "attribute_not_exists(#v) AND #o = :holder", {"S": seen.owner}
    state = FenceState(owner, version + 1, token + 1, ttl, round(time.time() + ttl, 3), sent_at)
    extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
    if values:
        extra["ExpressionAttributeValues"] = values
    try:
        client.put_item(
            TableName=table, Item=_item(application, state), ConditionExpression=condition, **extra
        )
    except AWS_FAILURES as exc:
        if not has_code(exc, "ConditionalCheckFailedException"):
            raise aws_error(exc, f"taking the fence of {application!r} in {table!r}", "dynamodb") from exc
        now = read(client, table, application)
        raise FenceHeld(
            now.owner if now and now.owner else "another driver", "it changed while taken"
        ) from exc
    return state


def _item(application: str, state: FenceState) -> dict[str, Any]:
    return {
        "application": {"S": application},
        "owner": {"S": state.owner or ""},
        "version": {"N": str(state.version)},
        "token": {"N": str(state.token)},
        "ttl_seconds": {"N": f"{state.ttl_seconds:.3f}"},
        "expires_at": {"N": f"{state.expires_at:.3f}"},
    }


def take(
    client: Any,
    table: str,
    application: str,
    owner: str,
    *,
    ttl: float = FENCE_TTL_SECONDS,
    may_break: Callable[[FenceState], bool] = lambda _state: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> FenceState:
    """Take the fence and return it (its `token` is this holder's fencing token). A free fence
    is taken at once, so is one `may_break` says is a dead holder's (a YARN attempt the
    ResourceManager reports ended). A held one is watched: taken once unchanged for longer than
    the TTL on this host's clock; FenceHeld as soon as its holder renews it."""
    watch = StaleWatch(ttl)
    while True:
        seen = read(client, table, application)
        if seen is None or seen.owner is None or seen.owner == owner:
            return _write(client, table, application, owner, seen, ttl, clock())
        if watch.changed(seen):
            raise FenceHeld(seen.owner, "renewed while this driver watched it")
        if watch.see(seen, clock()) or may_break(seen):
            return _write(client, table, application, owner, seen, ttl, clock())
        sleep(min(_POLL_SECONDS, ttl / 10))


def renew(client: Any, table: str, application: str, held: FenceState) -> FenceState:
    """Renew a fence this driver holds; FenceHeld if another took it (its token changed)."""
    ttl = held.ttl_seconds
    try:
        item = client.update_item(
            TableName=table,
            Key={"application": {"S": application}},
            UpdateExpression="SET #v = if_not_exists(#v, :zero) + :one, expires_at = :exp",
            ConditionExpression="#o = :me AND #t = :t",
            ExpressionAttributeNames={"#o": "owner", "#v": "version", "#t": "token"},
            ExpressionAttributeValues={":me": {"S": held.owner or ""}, ":t": {"N": str(held.token)},
                                       ":zero": {"N": "0"}, ":one": {"N": "1"},
                                       ":exp": {"N": f"{time.time() + ttl:.3f}"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]  # fmt: skip
    except AWS_FAILURES as exc:
        if not has_code(exc, "ConditionalCheckFailedException"):
            raise aws_error(exc, f"renewing the fence of {application!r} in {table!r}", "dynamodb") from exc
        now = read(client, table, application)
        raise FenceHeld(now.owner if now and now.owner else "nobody", "taken from this driver") from exc
    return FenceState(held.owner, int(item["version"]["N"]), held.token, ttl, float(item["expires_at"]["N"]))


def check_free(
    client: Any,
    table: str,
    application: str,
    *,
    ttl: float = FENCE_TTL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """The orchestrator's check before it submits a driver: returns at once if the fence is free;
    FenceHeld as soon as its holder renews it (a live driver); breaks it (on the version seen)
    once seen unchanged for longer than the TTL, so the next driver takes it at once."""
    watch = StaleWatch(ttl)
    while True:
        seen = read(client, table, application)
        if seen is None or seen.owner is None:
            return
        if watch.changed(seen):
            raise FenceHeld(seen.owner, "renewed while the orchestrator watched it")
        if watch.see(seen, clock()):
            if not release(client, table, application, seen.owner, seen=seen):
                raise FenceHeld(seen.owner, "renewed as it was being broken")
            return
        sleep(min(_POLL_SECONDS, ttl / 10))


def release(client: Any, table: str, application: str, owner: str, seen: FenceState | None = None) -> bool:
    """Give the fence up (or break a dead owner's): the owner is cleared, the token kept. True
    if free afterwards; False if someone else holds it now (or, with `seen`, it changed)."""
    names = {"#o": "owner", "#v": "version"}
    values: dict[str, Any] = {":me": {"S": owner}, ":one": {"N": "1"}, ":zero": {"N": "0"}}
    condition = "#o = :me"
    if seen is not None and seen.version:
        condition, values[":v"] = "#o = :me AND #v = :v", {"N": str(seen.version)}
    try:
        client.update_item(
            TableName=table,
            Key={"application": {"S": application}},
            UpdateExpression="REMOVE #o SET #v = if_not_exists(#v, :zero) + :one",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return True
    except AWS_FAILURES as exc:
        if not has_code(exc, "ConditionalCheckFailedException"):
            raise aws_error(exc, f"releasing the fence of {application!r} in {table!r}", "dynamodb") from exc
    state = read(client, table, application)
    return state is None or state.owner is None
