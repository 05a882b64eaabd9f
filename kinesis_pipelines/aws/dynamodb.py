"""The KCL application table in DynamoDB: one lease per shard, holding its checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.aws.errors import AWS_FAILURES, aws_error, has_code
from kinesis_pipelines.errors import AppTableConflictError, AwsError

LEASE_KEY = "leaseKey"
SENTINELS = {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "SHARD_END"}


class Lease(BaseModel):
    model_config = ConfigDict(frozen=True)

    shard_id: str
    checkpoint: str | None
    owner: str | None
    counter: int


class TableReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    table: str
    created: bool
    reset: bool
    status: str
    billing_mode: str
    leases: list[Lease]


class AppTable:
    """The lease and checkpoint table KCL keeps for one application (its name is the table's)."""

    def __init__(self, client: Any, application_name: str) -> None:
        self.client = client
        self.application_name = application_name

    def describe(self) -> dict[str, Any] | None:
        try:
            return self.client.describe_table(TableName=self.application_name)["Table"]
        except AWS_FAILURES as exc:
            if has_code(exc, "ResourceNotFoundException"):
                return None
            raise aws_error(exc, f"describing table {self.application_name!r}", "dynamodb") from exc

    def leases(self) -> list[Lease]:
        client = self.client
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.application_name, "ConsistentRead": True}
        while True:
            try:
                page = client.scan(**kwargs)
            except AWS_FAILURES as exc:
                if has_code(exc, "ResourceNotFoundException"):
                    return []  # no table yet: no leases
                raise aws_error(exc, f"reading the leases of {self.application_name!r}", "dynamodb") from exc
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(
            (
                Lease(
                    shard_id=item[LEASE_KEY]["S"],
                    checkpoint=item.get("checkpoint", {}).get("S"),
                    owner=item.get("leaseOwner", {}).get("S"),
                    counter=int(item.get("leaseCounter", {}).get("N", "0")),
                )
                for item in items
            ),
            key=lambda lease: lease.shard_id,
        )

    def ensure_table(
        self,
        stream_shards: list[str],
        oldest_available: Callable[[str], str | None],
        reset: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> TableReport:
        """Create the table on-demand with KCL's lease schema if missing; if it exists, refuse
        leases of shards the stream never had and checkpoints the stream no longer holds,
        unless `reset` (which deletes the table and creates it anew)."""
        say = progress or (lambda _m: None)
        table = self.describe()
        did_reset = False
        if table is not None:
            problems = self.check_against_stream(table, stream_shards, oldest_available)
            if problems and not reset:
                raise AppTableConflictError(
                    f"application table {self.application_name!r} does not match the stream:\n  - "
                    + "\n  - ".join(problems)
                    + "\nUse another application name, or reset the table explicitly (asset "
                    "config reset_app_table: true, or `kinesis-pipelines deploy --reset-app-table`"
                    "); a reset forgets every shard's position."
                )
            if problems:
                say(f"resetting application table {self.application_name}: {'; '.join(problems)}")
                self.client.delete_table(TableName=self.application_name)
                self._wait(lambda t: t is None, "deleted")
                table, did_reset = None, True
        created = False
        if table is None:
            say(f"creating application table {self.application_name} (on-demand, KCL lease schema)")
            self.client.create_table(
                TableName=self.application_name,
                AttributeDefinitions=[{"AttributeName": LEASE_KEY, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": LEASE_KEY, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
            created = True
        table = self._wait(lambda t: t is not None and t["TableStatus"] == "ACTIVE", "ACTIVE")
        assert table is not None
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        return TableReport(
            table=self.application_name,
            created=created,
            reset=did_reset,
            status=table["TableStatus"],
            billing_mode=billing,
            leases=self.leases(),
        )

    def check_against_stream(
        self,
        table: dict[str, Any],
        stream_shards: list[str],
        oldest_available: Callable[[str], str | None],
    ) -> list[str]:
        keys = [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]
        if keys != [(LEASE_KEY, "HASH")]:
            return [f"its key schema {keys} is not KCL's lease schema (leaseKey HASH)"]
        problems = []
        known = set(stream_shards)
        for lease in self.leases():
            if lease.shard_id not in known:
                problems.append(
                    f"lease {lease.shard_id} names a shard this stream never had "
                    "(the table belongs to another stream?)"
                )
                continue
            if lease.checkpoint is None or lease.checkpoint in SENTINELS:
                continue
            oldest = oldest_available(lease.shard_id)
            if oldest is not None and int(lease.checkpoint) < int(oldest) - 1:
                problems.append(
                    f"lease {lease.shard_id} is checkpointed at {lease.checkpoint}, before the "
                    f"oldest record the stream still holds ({oldest}): records were lost to "
                    "retention"
                )
        return problems

    def _wait(
        self, done: Callable[[dict[str, Any] | None], bool], what: str, timeout: float = 60.0
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            table = self.describe()
            if done(table):
                return table
            if time.monotonic() > deadline:
                raise AwsError(f"table {self.application_name!r} not {what} after {timeout:.0f} s")
            time.sleep(0.2)


def release_leases(client: Any, table: str) -> int:
    """Clear the owner of every lease, so the next driver's KCL workers take them at once instead
    of waiting out the lease failover time. Only when no KCL worker of the application runs
    anywhere; a handover releases only the dead driver's (`release_owned`, aws/handover.py)."""
    released = 0
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        try:
            page = client.scan(**kwargs)
        except AWS_FAILURES as exc:
            raise aws_error(exc, f"reading the leases of {table!r} to release them", "dynamodb") from exc
        for item in page["Items"]:
            owner = item.get("leaseOwner", {}).get("S")
            if not owner:
                continue
            try:
                client.update_item(
                    TableName=table,
                    Key={LEASE_KEY: item[LEASE_KEY]},
                    UpdateExpression="REMOVE leaseOwner SET leaseCounter = leaseCounter + :one",
                    ConditionExpression="leaseOwner = :owner",
                    ExpressionAttributeValues={":owner": {"S": owner}, ":one": {"N": "1"}},
                )
                released += 1
            except AWS_FAILURES as exc:
                if not has_code(exc, "ConditionalCheckFailedException"):
                    doing = f"releasing the lease of {item[LEASE_KEY]['S']} in {table!r}"
                    raise aws_error(exc, doing, "dynamodb") from exc
        if "LastEvaluatedKey" not in page:
            return released
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def release_owned(client: Any, table: str, leases: list[Lease]) -> int:
    """Clear the owner of each of these leases, each only while its owner and counter are still
    the ones read (a lease its worker renewed since, or another worker took, is kept). Returns
    how many were released."""
    released = 0
    for lease in leases:
        if not lease.owner:
            continue
        try:
            client.update_item(
                TableName=table,
                Key={LEASE_KEY: {"S": lease.shard_id}},
                UpdateExpression="REMOVE leaseOwner SET leaseCounter = leaseCounter + :one",
                ConditionExpression="leaseOwner = :owner AND leaseCounter = :counter",
                ExpressionAttributeValues={
                    ":owner": {"S": lease.owner},
                    ":counter": {"N": str(lease.counter)},
                    ":one": {"N": "1"},
                },
            )
            released += 1
        except AWS_FAILURES as exc:
            if not has_code(exc, "ConditionalCheckFailedException"):
                doing = f"releasing the lease of {lease.shard_id} in {table!r}"
                raise aws_error(exc, doing, "dynamodb") from exc
    return released


def set_checkpoint(client: Any, table: str, lease: Lease, checkpoint: str) -> bool:
    """Move a lease's checkpoint (and take it from its owner, as KCL does when a lease changes
    hands), only while its checkpoint and counter are still the ones read. False if it changed."""
    values: dict[str, Any] = {
        ":to": {"S": checkpoint},
        ":zero": {"N": "0"},
        ":one": {"N": "1"},
        ":counter": {"N": str(lease.counter)},
    }
    condition = "leaseCounter = :counter"
    if lease.checkpoint is None:
        condition += " AND attribute_not_exists(checkpoint)"
    else:
        condition += " AND checkpoint = :seen"
        values[":seen"] = {"S": lease.checkpoint}
    try:
        client.update_item(
            TableName=table,
            Key={LEASE_KEY: {"S": lease.shard_id}},
            UpdateExpression=(
                "REMOVE leaseOwner SET checkpoint = :to, checkpointSubSequenceNumber = :zero, "
                "leaseCounter = leaseCounter + :one"
            ),
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
        return True
    except AWS_FAILURES as exc:
        if not has_code(exc, "ConditionalCheckFailedException"):
            doing = f"moving the checkpoint of {lease.shard_id} in {table!r}"
            raise aws_error(exc, doing, "dynamodb") from exc
        return False
