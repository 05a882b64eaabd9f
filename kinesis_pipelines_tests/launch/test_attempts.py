"""The local launcher's attempts runner: a driver process that dies is relaunched at once, with
the dead attempt's fence broken and its KCL leases released; a clean exit, a fenced exit, a stop
or spent attempts end it. Real child processes stand in for spark-submit; DynamoDB is a moto server
on 127.0.0.1 that both reach."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from kinesis_pipelines.app import control
from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.aws.dynamodb import LEASE_KEY, AppTable
from kinesis_pipelines.launch import attempts
from kinesis_pipelines.launch.submit import driver_config
from kinesis_pipelines.operations.deploy import receiver_plan
from kinesis_pipelines_tests.e2e.helpers import make_spec

SPEC = make_spec("attempts", shards=1)
APP = SPEC.app_table.application_name
FENCE = SPEC.supervision.fence_table

# A stand-in driver: takes the fence with the owner its launcher gave it and a KCL lease (for a
# worker named as Spark's receiver names it in local mode: the loopback address and a UUID), then
# exits with the next code from codes.txt (one per attempt).
DRIVER = f"""
import os, sys, uuid, boto3
from pathlib import Path
client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=os.environ["KP_TEST_DYNAMODB"])
owner = os.environ["{control.FENCE_OWNER_ENV}"]
Path(sys.argv[1], "owners.txt").open("a").write(owner + "\\n")
codes = Path(sys.argv[1], "codes.txt").read_text().split()
attempt = len(Path(sys.argv[1], "owners.txt").read_text().split())
client.put_item(TableName="{FENCE}", Item={{"application": {{"S": "{APP}"}}, "owner": {{"S": owner}},
                "expires_at": {{"N": "9999999999"}}}})
worker = "127.0.0.1:" + str(uuid.uuid4())
client.put_item(TableName="{APP}", Item={{"{LEASE_KEY}": {{"S": "shardId-0"}}, "leaseOwner": {{"S": worker}},
                "leaseCounter": {{"N": str(attempt)}}, "checkpoint": {{"S": "7"}}}})
sys.exit(int(codes[attempt - 1]))
"""


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        monkeypatch.setenv("KP_TEST_DYNAMODB", url)
        requests.post(f"{url}/moto-api/reset", timeout=10)  # moto's state is per process
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=url)
        fence.ensure_fence_table(client, FENCE)
        AppTable(client, APP).ensure_table([], lambda _shard: None)
        yield client, url
    finally:
        server.stop()


@pytest.fixture
def control_dir(tmp_path: Path, dynamodb: tuple[Any, str]) -> Path:
    connection = AwsConnection(region="us-east-1", endpoints={"dynamodb": dynamodb[1]})
    config = driver_config(SPEC, receiver_plan(SPEC, 1), connection, "g1", str(tmp_path))
    (tmp_path / control.JOB_FILE).write_text(config.model_dump_json())
    return tmp_path


def run(control_dir: Path, codes: list[int], max_attempts: int) -> tuple[int, Any]:
    (control_dir / "codes.txt").write_text(" ".join(map(str, codes)))
    argv = [sys.executable, "-c", DRIVER, str(control_dir)]
    code = attempts.run(control_dir, max_attempts, argv, control_dir / "exit-code")
    return code, attempts.read_attempts(control_dir)


def test_a_killed_driver_is_relaunched_with_its_fence_and_leases_handed_over(
    control_dir: Path, dynamodb: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attempts, "FIRST_BACKOFF_SECONDS", 0.01)
    client = dynamodb[0]
    seen: list[tuple[Any, Any]] = []
    handover = attempts.hand_over

    def watched(*args: Any) -> Any:
        outcome = handover(*args)
        seen.append((fence.current(client, FENCE, APP), AppTable(client, APP).leases()))
        return outcome

    monkeypatch.setattr(attempts, "hand_over", watched)
    code, record = run(control_dir, [137, 0], max_attempts=3)
    assert code == 0 and (control_dir / "exit-code").read_text().strip() == "0"
    assert [(a.number, a.exit_code) for a in record.attempts] == [(1, 137), (2, 0)]
    owners = (control_dir / "owners.txt").read_text().split()
    assert owners == [a.fence_owner for a in record.attempts]  # each attempt its own owner
    # between the attempts: the dead attempt's fence broken, its lease free, its position kept
    ((held, leases),) = seen
    assert held is None
    assert [(lease.owner, lease.checkpoint) for lease in leases] == [(None, "7")]


def test_attempts_end_when_spent_and_the_last_exit_code_is_kept(
    control_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(attempts, "FIRST_BACKOFF_SECONDS", 0.01)
    code, record = run(control_dir, [1, 137, 0], max_attempts=2)
    assert code == 137 and (control_dir / "exit-code").read_text().strip() == "137"
    assert [a.exit_code for a in record.attempts] == [1, 137]


def test_a_stop_asked_for_is_never_undone(control_dir: Path) -> None:
    (control_dir / control.STOP_MARKER).touch()
    code, record = run(control_dir, [137, 0], max_attempts=3)
    assert code == 137 and len(record.attempts) == 1


@pytest.mark.parametrize(
    ("code", "stop", "attempt", "most", "expected"),
    [
        (137, False, 1, 2, True),  # SIGKILL: relaunch
        (1, False, 1, 2, True),
        (1, False, 2, 2, False),  # attempts spent
        (0, False, 1, 2, False),  # finished
        (fence.FENCED_EXIT_CODE, False, 1, 2, False),  # another driver holds the application
        (137, True, 1, 2, False),  # a stop was asked for
    ],
)
def test_which_exits_are_relaunched(code: int, stop: bool, attempt: int, most: int, expected: bool) -> None:
    assert attempts.relaunch_wanted(code, stop, attempt, most) is expected
