"""Never two drivers for one KCL application: a conditional item with a heartbeat in DynamoDB.

The driver takes the fence before it creates a receiver and renews it while it runs; a second
driver finds it held and exits with a clear message. The fence lives in its own small table
(not KCL's lease table, whose every item KCL treats as a shard lease)."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

FENCE_TTL_SECONDS = 30.0
FENCED_EXIT_CODE = 3


class FenceHeld(Exception):
    def __init__(self, owner: str, expires_at: float) -> None:
        super().__init__(
            f"kinesis-pipelines fence held by {owner} for {max(0.0, expires_at - time.time()):.0f} s "
            "more: another driver runs this application; stop it first"
        )
        self.owner = owner


def ensure_fence_table(client: Any, table: str) -> None:
    try:
        client.describe_table(TableName=table)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    try:
        client.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "application", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "application", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    for _ in range(100):
        if client.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.2)


def acquire(client: Any, table: str, application: str, owner: str, now: float | None = None) -> None:
    """Take or renew the fence; FenceHeld if a live other owner has it."""
    now = time.time() if now is None else now
    try:
        client.put_item(
            TableName=table,
            Item={
                "application": {"S": application},
                "owner": {"S": owner},
                "expires_at": {"N": f"{now + FENCE_TTL_SECONDS:.3f}"},
            },
            ConditionExpression="attribute_not_exists(application) OR expires_at < :now OR #o = :me",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":me": {"S": owner}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        holder = current(client, table, application)
        raise FenceHeld(*(holder or ("unknown", now))) from exc


def current(client: Any, table: str, application: str) -> tuple[str, float] | None:
    item = client.get_item(TableName=table, Key={"application": {"S": application}}, ConsistentRead=True).get(
        "Item"
    )
    if not item:
        return None
    return item["owner"]["S"], float(item["expires_at"]["N"])


def release(client: Any, table: str, application: str, owner: str) -> bool:
    """Give the fence up (or break a dead owner's); False if someone else holds it now."""
    try:
        client.delete_item(
            TableName=table,
            Key={"application": {"S": application}},
            ConditionExpression="attribute_not_exists(application) OR #o = :me",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":me": {"S": owner}},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
