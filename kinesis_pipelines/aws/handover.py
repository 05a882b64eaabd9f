"""Handing a dead driver's application to the next one at once: break its fence and release its
KCL leases, so the next driver neither waits out the fence's TTL nor KCL's lease failover.

Nothing is released unless the dead driver's fence was actually broken: if another owner holds
the fence now, a live driver runs and its leases are its own. And only leases the dead driver's
KCL workers own are released. Spark's receiver names its KCL worker
`<Utils.localHostName()>:<random UUID>` (KinesisReceiver.onStart), so a worker is tied to a
driver by host: a local-mode driver's receivers run in the driver's JVM, whose host name is the
loopback address the local launcher binds Spark to (or, without it, the driver's host). Workers on
other hosts (a standalone cluster's or YARN's executors, or another driver) are left to KCL's own
failover. The leases are read while the dead owner still holds the fence, before it is broken, and
each is released only if its owner and counter are still those read: a lease a new driver took in
between, or one a live worker renewed, is kept."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.dynamodb import AppTable, Lease, release_owned
from kinesis_pipelines.errors import AwsError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
log = logging.getLogger(__name__)


class Handover(BaseModel):
    """What a handover did, and why it stopped short when it did."""

    model_config = ConfigDict(frozen=True)

    fence_broken: bool
    released: int = 0
    kept: list[str] = []  # owners of leases left alone: not the dead driver's workers
    note: str = ""


def worker_hosts(fence_owner: str) -> frozenset[str] | None:
    """Pure: the hosts whose KCL workers belong to the driver with this fence owner, or None when
    the owner does not say (a YARN attempt, `yarn:<application>:...`: its executors' hosts are
    the cluster's). A local driver's owner starts `<host>:<pid>:` (attempts.fence_owner_prefix,
    app/fencing.fence_identity)."""
    parts = fence_owner.split(":")
    if len(parts) < 3 or parts[0] == "yarn" or not parts[1].isdigit():
        return None
    return LOOPBACK_HOSTS | {parts[0]}


def leases_of(leases: list[Lease], hosts: Collection[str]) -> tuple[list[Lease], list[str]]:
    """Pure: the owned leases whose worker runs on one of `hosts` (KCL worker ids are
    `<host>:<uuid>`), and the other owners, left alone."""
    mine = [lease for lease in leases if lease.owner and lease.owner.rsplit(":", 1)[0] in hosts]
    others = sorted({lease.owner for lease in leases if lease.owner and lease not in mine})
    return mine, others


def hand_over(
    dynamodb: Any,
    fence_table: str | None,
    application: str,
    fence_owner: str | None,
    hosts: Collection[str] | None = None,
) -> Handover:
    """Break the dead driver's fence (on condition that `fence_owner` still holds it), then release
    the leases its workers own (`hosts`: where they ran; by default read from the owner). Only call
    this once the driver is known gone."""
    if not fence_table or not fence_owner:
        return Handover(fence_broken=False, note="the dead driver's fence is not known: released no lease")
    hosts = worker_hosts(fence_owner) if hosts is None else frozenset(hosts)
    try:
        before = AppTable(dynamodb, application).leases()
    except AwsError as exc:
        before, unread = [], str(exc)
    else:
        unread = ""
    if not fence.release(dynamodb, fence_table, application, fence_owner):
        holder = fence.current(dynamodb, fence_table, application)
        return Handover(
            fence_broken=False,
            note=f"the fence is held by {holder[0] if holder else 'another owner'} now, not by the dead "
            f"{fence_owner}: a live driver runs; released none of its leases",
        )
    if unread:
        return Handover(fence_broken=True, note=f"fence broken; leases not released ({unread})")
    if hosts is None:
        return Handover(
            fence_broken=True,
            kept=sorted({lease.owner for lease in before if lease.owner}),
            note=f"fence broken; which KCL workers were {fence_owner}'s is not known here: leases "
            "left to KCL's failover",
        )
    mine, others = leases_of(before, hosts)
    try:
        released = release_owned(dynamodb, application, mine)
    except AwsError as exc:
        return Handover(fence_broken=True, kept=others, note=f"fence broken; releasing leases failed: {exc}")
    note = f"fence broken; released {released} lease(s)"
    if others:
        note += f"; kept {len(others)} owned by other workers ({', '.join(others)})"
    return Handover(fence_broken=True, released=released, kept=others, note=note)


def clear_dead_driver(
    dynamodb: Any, fence_table: str | None, application: str, fence_owner: str | None
) -> int:
    """`hand_over`, for callers that only count: the number of leases released (0 when the fence
    could not be broken, which is logged)."""
    outcome = hand_over(dynamodb, fence_table, application, fence_owner)
    if not outcome.fence_broken:
        log.warning("handover of %s: %s", application, outcome.note)
    return outcome.released
