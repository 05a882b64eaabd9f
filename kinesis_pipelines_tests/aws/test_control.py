"""The control table against an in-process AWS (moto): records outlive the host's files, they
sit beside the fence without disturbing it, and another pipeline's records are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.control import ControlTable
from kinesis_pipelines.errors import ControlTableConflictError
from kinesis_pipelines.state import PipelineStore

TABLE, APP = "kp-control", "orders-app"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def test_records_outlive_the_hosts_files(dynamodb: Any, tmp_path: Path) -> None:
    def control() -> ControlTable:
        return ControlTable(dynamodb, TABLE, APP, "orders", "orders-stream")

    first = PipelineStore("orders", root=tmp_path / "host-a", durable=control)
    first.save_intent("running", by="deploy", now=100.0)
    first.record_restart(200.0)
    first.record_restart(300.0)
    replacement = PipelineStore("orders", root=tmp_path / "host-b", durable=control)  # no files
    assert replacement.restarts().times == [200.0, 300.0]
    intent = replacement.intent()
    assert intent is not None and (intent.desired, intent.at) == ("running", 100.0)
    assert not list((tmp_path / "host-a").glob("*.json"))  # nothing durable on the host


def test_records_sit_beside_the_fence(dynamodb: Any) -> None:
    control = ControlTable(dynamodb, TABLE, APP, "orders", "orders-stream")
    control.write("driver", '{"x": 1}')
    held = fence.take(dynamodb, TABLE, APP, "driver-a")
    assert fence.current(dynamodb, TABLE, APP) == ("driver-a", held.expires_at)
    assert control.read("driver") == '{"x": 1}'


def test_another_pipelines_records_are_refused_before_anything_is_written(dynamodb: Any) -> None:
    ControlTable(dynamodb, TABLE, APP, "orders", "orders-stream").write("intent", "{}")
    intruder = ControlTable(dynamodb, TABLE, APP, "payments", "payments-stream")
    with pytest.raises(ControlTableConflictError, match="for pipeline 'orders' on stream 'orders-stream'"):
        intruder.write("intent", '{"desired": "stopped"}')
    assert ControlTable(dynamodb, TABLE, APP, "orders", "orders-stream").read("intent") == "{}"


def test_a_look_reads_its_records_in_one_round_trip(dynamodb: Any, tmp_path: Path) -> None:
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    control = ControlTable(dynamodb, TABLE, APP, "orders", "orders-stream")
    store = PipelineStore("orders", root=tmp_path, durable=lambda: control)
    store.save_intent("stopped", by="cli", now=100.0)
    store.record_restart(200.0)
    calls.clear()
    store.prefetch("driver", "intent", "restarts")
    assert calls == ["BatchGetItem"]
    intent = store.intent()
    assert store.driver() is None and intent is not None and intent.desired == "stopped"
    assert store.restarts().times == [200.0]
    assert calls == ["BatchGetItem"]  # served from the one round trip
    assert store.intent() is not None and calls[-1] == "GetItem"  # once only: later reads are fresh
    # the table gone since this process checked it: made again, not a failure on every later look
    dynamodb.delete_table(TableName=TABLE)
    assert ControlTable(dynamodb, TABLE, APP, "orders", "orders-stream").read("intent") is None
