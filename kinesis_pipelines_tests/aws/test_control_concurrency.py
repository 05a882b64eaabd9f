"""Two hosts on one control table (the embedded DynamoDB): versioned records written only over
the version read, a read-modify-write that lost done again, the operation lock held by one owner
at a time, renewed while held, taken over once its holder stops renewing, and an intent that
cannot be read counting as a stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from kinesis_pipelines.aws import oplock
from kinesis_pipelines.aws.control import ControlTable
from kinesis_pipelines.errors import AwsError, ControlRecordConflictError, OperationLockedError
from kinesis_pipelines.state import PipelineStore


@pytest.fixture
def dynamodb(local_aws) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=local_aws.dynamodb_endpoint,
        region_name=local_aws.region,
        verify=local_aws.ca_bundle,
    )


def control(dynamodb: Any, app: str) -> ControlTable:
    return ControlTable(dynamodb, "kp-control-tests", app, f"p-{app}", f"s-{app}")


def store(dynamodb: Any, app: str, root: Path) -> PipelineStore:
    table = control(dynamodb, app)
    return PipelineStore(f"p-{app}", root=root, durable=lambda: table)


def test_a_record_is_written_only_over_the_version_read(dynamodb) -> None:
    table = control(dynamodb, "versions")
    assert table.read_versioned("driver") == (None, 0)
    assert table.write("driver", "a", expected_version=0) == 1
    assert table.read_versioned("driver") == ("a", 1)
    with pytest.raises(ControlRecordConflictError, match="no longer version 0"):
        table.write("driver", "b", expected_version=0)  # another host wrote version 1 first
    assert table.write("driver", "c", expected_version=1) == 2
    assert table.write("driver", "d") == 3  # without an expectation: over whatever is there
    assert table.read_versioned("driver") == ("d", 3)


def test_two_hosts_saving_the_same_record_one_loses(dynamodb, tmp_path: Path) -> None:
    host_a, host_b = (
        store(dynamodb, "lost_update", tmp_path / "a"),
        store(dynamodb, "lost_update", tmp_path / "b"),
    )
    host_a.save_reshards(host_a.reshards().model_copy(update={"calls": [1.0]}))
    seen_a, seen_b = host_a.reshards(), host_b.reshards()
    host_a.save_reshards(seen_a.model_copy(update={"calls": [*seen_a.calls, 2.0]}))
    with pytest.raises(ControlRecordConflictError, match="reshards"):
        host_b.save_reshards(seen_b.model_copy(update={"calls": [*seen_b.calls, 3.0]}))
    assert host_b.reshards().calls == [1.0, 2.0]


def test_restarts_recorded_at_once_on_many_hosts_are_all_kept(dynamodb, tmp_path: Path) -> None:
    hosts = [store(dynamodb, "restarts", tmp_path / f"host-{i}") for i in range(6)]
    threads = [
        threading.Thread(target=lambda s=s, i=i: [s.record_restart(i * 100.0 + j) for j in range(5)])
        for i, s in enumerate(hosts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(hosts[0].restarts().times) == sorted(i * 100.0 + j for i in range(6) for j in range(5))


def test_an_unreadable_intent_counts_as_a_stop_and_says_why(dynamodb, tmp_path: Path) -> None:
    host = store(dynamodb, "bad_intent", tmp_path)
    assert host.intent() is None and not host.stop_requested()
    control(dynamodb, "bad_intent").write("intent", "{not json")
    intent = host.intent()
    assert intent is not None and intent.desired == "stopped" and "could not be read" in intent.by
    assert host.stop_requested()
    written = host.save_intent("running", by="deploy")  # an operator's word replaces it
    assert host.intent() == written and written.version == 2

    class Unreachable(ControlTable):
        def read_versioned(self, name: str) -> tuple[str | None, int]:
            raise AwsError("DynamoDB did not answer")

    cut_off = PipelineStore(
        "p-bad_intent", root=tmp_path, durable=lambda: Unreachable(dynamodb, "t", "a", "p", "s")
    )
    assert cut_off.stop_requested()
    assert "DynamoDB did not answer" in (cut_off.intent() or written).unreadable


def test_the_lock_is_held_by_one_owner_and_names_it(dynamodb, tmp_path: Path) -> None:
    host_a, host_b = store(dynamodb, "lock", tmp_path / "a"), store(dynamodb, "lock", tmp_path / "b")
    with host_a.operation_lock("deploy"):
        started = time.monotonic()
        refused = pytest.raises(OperationLockedError, match=r"deploy by .+:\d+:[0-9a-f]{8}, running for")
        with refused, host_b.operation_lock("stop", wait_seconds=1.0):
            pass
        assert 0.9 < time.monotonic() - started < 5
        with host_a.operation_lock("nested"):  # the same store holds it already
            pass
    with host_b.operation_lock("stop", wait_seconds=1.0):  # released at the end of the hold
        assert control(dynamodb, "lock").operation_lock().holder() is not None
    assert control(dynamodb, "lock").operation_lock().holder() is None


def test_the_lock_waits_for_its_holder_then_is_taken(dynamodb, tmp_path: Path) -> None:
    host_a, host_b = store(dynamodb, "queue", tmp_path / "a"), store(dynamodb, "queue", tmp_path / "b")
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with host_a.operation_lock("roll"):
            held.set()
            time.sleep(1.5)
            order.append("a")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(10)
    with host_b.operation_lock("stop", wait_seconds=30):
        order.append("b")
    thread.join()
    assert order == ["a", "b"]


def test_a_long_hold_is_renewed_and_a_dead_holders_lock_expires(dynamodb, monkeypatch) -> None:
    monkeypatch.setattr(oplock, "LOCK_TTL_SECONDS", 2.0)
    monkeypatch.setattr(oplock, "RENEW_EVERY_SECONDS", 0.5)
    lock = control(dynamodb, "renewed").operation_lock()
    end = oplock.held(lock, "drain", wait_seconds=1)
    time.sleep(4)  # two TTLs: only the renewals keep it
    with pytest.raises(OperationLockedError):
        lock.acquire(oplock.new_owner(), "deploy", wait_seconds=0.5)
    end()
    # a holder that died (no renewals, no release) loses it once its TTL has passed
    assert lock.try_acquire("dead-host:1:00000000", "deploy") is None
    other = oplock.new_owner()
    assert lock.try_acquire(other, "stop") is not None
    started = time.monotonic()
    lock.acquire(other, "stop", wait_seconds=10)
    assert 1.0 < time.monotonic() - started < 4
    # the dead holder cannot release what is now another's
    assert not lock.release("dead-host:1:00000000") and lock.release(other)
