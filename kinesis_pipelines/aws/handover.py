"""Handing a dead driver's application to the next one at once: break its fence and release its
KCL leases, so the next driver neither waits out the fence's TTL nor KCL's lease failover."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.dynamodb import release_leases


def clear_dead_driver(
    dynamodb: Any, fence_table: str | None, application: str, fence_owner: str | None
) -> int:
    """Only call this once the driver is known gone. Returns the number of leases released."""
    if fence_table and fence_owner:
        fence.release(dynamodb, fence_table, application, fence_owner)
    try:
        return release_leases(dynamodb, application)
    except ClientError:
        return 0
