"""One operation at a time per pipeline, across every host: a leased lock item in the control
table, `<application>#lock`, beside the pipeline's records.

Taken with a conditional put (free, expired, or already ours), it names its owner (host, process
and a random tag) and the operation, and expires `LOCK_TTL_SECONDS` after its last renewal. A
thread renews it while it is held, so an operation may take as long as it must (a roll that
drains its old generation for half an hour); a holder that died leaves it to expire. Released
with a conditional delete: never another owner's lock. An operation that cannot take the lock
within its wait fails with `OperationLockedError`, naming the holder.

Expiry compares the holder's wall clock (written) with the taker's (read): hosts must keep their
clocks within a few seconds of each other (NTP), well inside the TTL."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.aws.errors import AWS_FAILURES, aws_error, has_code
from kinesis_pipelines.errors import AwsError, OperationLockedError

LOCK = "lock"
LOCK_TTL_SECONDS = 60.0
RENEW_EVERY_SECONDS = 15.0
POLL_SECONDS = 0.2


class LockHolder(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str
    operation: str
    acquired_at: float
    expires_at: float


def new_owner() -> str:
    """This process's name for one hold of a lock."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OperationLock:
    """The lock of one application's operations; `hold` is a context manager."""

    def __init__(self, client: Any, table: str, application: str, pipeline: str) -> None:
        self.client, self.table, self.pipeline = client, table, pipeline
        self.key = {"application": {"S": f"{application}#{LOCK}"}}
        self.lost = threading.Event()  # set when a renewal found another owner

    def try_acquire(self, owner: str, operation: str, now: float | None = None) -> LockHolder | None:
        """Take (or renew) the lock for `owner`; None if it is ours now, else its live holder."""
        now = time.time() if now is None else now
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self.key,
                    "owner": {"S": owner},
                    "operation": {"S": operation},
                    "acquired_at": {"N": f"{now:.3f}"},
                    "expires_at": {"N": f"{now + LOCK_TTL_SECONDS:.3f}"},
                },
                ConditionExpression="attribute_not_exists(application) OR expires_at < :now OR #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":me": {"S": owner}},
            )
            return None
        except AWS_FAILURES as exc:
            if not has_code(exc, "ConditionalCheckFailedException"):
                raise aws_error(exc, f"taking the operation lock of {self.pipeline}", "dynamodb") from exc
        return self.holder() or LockHolder(
            owner="(released meanwhile)", operation="", acquired_at=0, expires_at=0
        )

    def holder(self) -> LockHolder | None:
        try:
            item = self.client.get_item(TableName=self.table, Key=self.key, ConsistentRead=True).get("Item")
        except AWS_FAILURES as exc:
            raise aws_error(exc, f"reading the operation lock of {self.pipeline}", "dynamodb") from exc
        if not item:
            return None
        return LockHolder(
            owner=item["owner"]["S"],
            operation=item.get("operation", {}).get("S", ""),
            acquired_at=float(item.get("acquired_at", {}).get("N", "0")),
            expires_at=float(item["expires_at"]["N"]),
        )

    def acquire(self, owner: str, operation: str, wait_seconds: float) -> None:
        """Take the lock within `wait_seconds` or fail with OperationLockedError naming the holder."""
        deadline = time.monotonic() + wait_seconds
        while True:
            holder = self.try_acquire(owner, operation)
            if holder is None:
                self.lost.clear()
                return
            if time.monotonic() >= deadline:
                raise OperationLockedError(
                    f"{self.pipeline}: another operation holds the pipeline's lock: "
                    f"{holder.operation or 'an operation'} by {holder.owner}, "
                    f"running for {max(0.0, time.time() - holder.acquired_at):.0f} s "
                    f"(lock renewed until {max(0.0, holder.expires_at - time.time()):.0f} s from now); "
                    f"waited {wait_seconds:.0f} s. Try again once it ends; if that process is gone, "
                    f"its lock expires within {LOCK_TTL_SECONDS:.0f} s by itself"
                )
            time.sleep(POLL_SECONDS)

    def release(self, owner: str) -> bool:
        """Give the lock up; False if it was no longer ours (it expired and was taken)."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self.key,
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
            return True
        except AWS_FAILURES as exc:
            if has_code(exc, "ConditionalCheckFailedException"):
                return False
            raise aws_error(exc, f"releasing the operation lock of {self.pipeline}", "dynamodb") from exc

    def keep(self, owner: str, operation: str, stop: threading.Event) -> threading.Thread:
        """Renew the lock every RENEW_EVERY_SECONDS until `stop` is set; `lost` is set if another
        owner took it (this host could not renew for a whole TTL)."""

        def renew() -> None:
            while not stop.wait(RENEW_EVERY_SECONDS):
                try:
                    if self.try_acquire(owner, operation) is not None:
                        self.lost.set()
                        return
                except AwsError:
                    continue  # a failed renewal: the next one may pass before the TTL runs out

        thread = threading.Thread(target=renew, name=f"lock-{self.pipeline}", daemon=True)
        thread.start()
        return thread


def held(lock: OperationLock, operation: str, wait_seconds: float) -> Callable[[], None]:
    """Take the lock and start renewing it; returns the function that ends the hold."""
    owner = new_owner()
    lock.acquire(owner, operation, wait_seconds)
    stop = threading.Event()
    thread = lock.keep(owner, operation, stop)

    def end() -> None:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(AwsError):  # if not released, it expires by itself within the TTL
            lock.release(owner)

    return end
