"""A dead driver's application is handed over only once its fence was broken, and only its own
KCL workers' leases are released: against the embedded DynamoDB, with leases written the way KCL
writes them (`<host>:<uuid>` worker ids)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from kinesis_pipelines.aws import fence, make_client, resolve_connection
from kinesis_pipelines.aws.dynamodb import LEASE_KEY, AppTable, Lease, release_owned
from kinesis_pipelines.aws.handover import clear_dead_driver, hand_over, leases_of, worker_hosts
from kinesis_pipelines_tests.e2e.helpers import make_spec

DEAD = "driver-host:4242:g1:attempt-1"  # how the local launcher names a driver on the fence


def kcl_worker(host: str) -> str:
    """A worker id as Spark's KinesisReceiver makes it: the host, then a random UUID."""
    return f"{host}:{uuid.uuid4()}"


@pytest.fixture
def tables(local_aws: Any) -> tuple[Any, str, str]:
    spec = make_spec(f"handover_{uuid.uuid4().hex[:8]}", shards=1)
    client = make_client("dynamodb", resolve_connection(spec))
    table, application = spec.supervision.fence_table, spec.app_table.application_name
    fence.ensure_fence_table(client, table)
    AppTable(client, application).ensure_table([], lambda _shard: None)
    return client, table, application


def hold_fence(client: Any, table: str, application: str, owner: str) -> None:
    client.put_item(
        TableName=table,
        Item={"application": {"S": application}, "owner": {"S": owner}, "version": {"N": "1"},
              "token": {"N": "1"}, "ttl_seconds": {"N": "30"},
              "expires_at": {"N": f"{time.time() + 30:.3f}"}},
    )  # fmt: skip


def put_lease(client: Any, application: str, shard: str, owner: str | None, counter: int = 5) -> None:
    item = {LEASE_KEY: {"S": shard}, "leaseCounter": {"N": str(counter)}, "checkpoint": {"S": "42"}}
    if owner:
        item["leaseOwner"] = {"S": owner}
    client.put_item(TableName=application, Item=item)


def owners(client: Any, application: str) -> dict[str, str | None]:
    return {lease.shard_id: lease.owner for lease in AppTable(client, application).leases()}


def test_worker_hosts_are_read_from_a_local_drivers_fence_owner() -> None:
    assert worker_hosts(DEAD) == {"driver-host", "127.0.0.1", "localhost", "::1", "[::1]"}
    assert worker_hosts("driver-host:4242:g1") is not None  # a driver that named itself
    assert worker_hosts("yarn:application_1_0001:1:g1") is None  # executors' hosts: the cluster's
    leases = [
        Lease(shard_id="s0", checkpoint="1", owner=kcl_worker("127.0.0.1"), counter=1),
        Lease(shard_id="s1", checkpoint="1", owner="other-host:5f0c", counter=1),
        Lease(shard_id="s2", checkpoint="1", owner=None, counter=1),
        Lease(shard_id="s3", checkpoint="1", owner="[::1]:77aa", counter=1),
    ]
    mine, others = leases_of(leases, {"127.0.0.1", "[::1]"})
    assert [lease.shard_id for lease in mine] == ["s0", "s3"] and others == ["other-host:5f0c"]


def test_only_the_dead_drivers_workers_leases_are_released_and_a_live_workers_survives(
    tables: tuple[Any, str, str],
) -> None:
    client, table, application = tables
    hold_fence(client, table, application, DEAD)
    dead_worker, live_worker = kcl_worker("127.0.0.1"), kcl_worker("other-host")
    put_lease(client, application, "shardId-0", dead_worker)
    put_lease(client, application, "shardId-1", live_worker)
    put_lease(client, application, "shardId-2", None)
    outcome = hand_over(client, table, application, DEAD)
    assert outcome.fence_broken and outcome.released == 1
    assert outcome.kept == [live_worker] and "kept 1" in outcome.note
    assert owners(client, application) == {"shardId-0": None, "shardId-1": live_worker, "shardId-2": None}
    assert fence.current(client, table, application) is None
    leases = {lease.shard_id: lease for lease in AppTable(client, application).leases()}
    assert leases["shardId-0"].counter == 6 and leases["shardId-0"].checkpoint == "42"  # position kept


def test_a_fence_held_by_another_owner_now_means_no_lease_is_released(tables: tuple[Any, str, str]) -> None:
    """The dead driver's fence was taken over: a live driver runs, and its leases (on the same
    host as the dead one's, which a host tie alone could not tell apart) are its own."""
    client, table, application = tables
    live = "driver-host:5151:g2:attempt-1"
    hold_fence(client, table, application, live)
    put_lease(client, application, "shardId-0", kcl_worker("127.0.0.1"))
    put_lease(client, application, "shardId-1", kcl_worker("driver-host"))
    before = owners(client, application)
    outcome = hand_over(client, table, application, DEAD)
    assert not outcome.fence_broken and outcome.released == 0
    assert live in outcome.note and "released none" in outcome.note
    assert owners(client, application) == before
    assert fence.current(client, table, application) is not None  # still the live driver's
    assert clear_dead_driver(client, table, application, DEAD) == 0  # the counting form agrees


def test_without_a_known_fence_owner_nothing_is_released(tables: tuple[Any, str, str]) -> None:
    client, table, application = tables
    put_lease(client, application, "shardId-0", kcl_worker("127.0.0.1"))
    assert clear_dead_driver(client, table, application, None) == 0
    assert owners(client, application)["shardId-0"] is not None


def test_a_yarn_attempts_leases_are_left_to_kcl_once_its_fence_is_broken(
    tables: tuple[Any, str, str],
) -> None:
    client, table, application = tables
    owner = "yarn:application_1_0001:1:g1"
    hold_fence(client, table, application, owner)
    worker = kcl_worker("nodemanager-7")
    put_lease(client, application, "shardId-0", worker)
    outcome = hand_over(client, table, application, owner)
    assert outcome.fence_broken and outcome.released == 0 and outcome.kept == [worker]
    assert owners(client, application)["shardId-0"] == worker
    # a caller that knows where the attempt's executors ran can name their hosts
    hold_fence(client, table, application, owner)
    assert hand_over(client, table, application, owner, hosts={"nodemanager-7"}).released == 1


def test_a_lease_renewed_or_taken_since_it_was_read_is_kept(tables: tuple[Any, str, str]) -> None:
    client, _table, application = tables
    worker = kcl_worker("127.0.0.1")
    put_lease(client, application, "shardId-0", worker, counter=5)
    put_lease(client, application, "shardId-1", worker, counter=5)
    read = AppTable(client, application).leases()
    put_lease(client, application, "shardId-0", worker, counter=6)  # its worker renewed it
    put_lease(client, application, "shardId-1", kcl_worker("127.0.0.1"), counter=6)  # a new worker took it
    assert release_owned(client, application, read) == 0
    assert all(owners(client, application).values())
