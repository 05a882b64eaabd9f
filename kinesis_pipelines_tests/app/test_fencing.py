"""The driver's side of the fence: who it is on it (the launcher's name, or its YARN attempt);
keeping it, timed on a manual clock (lost 2/3 of the TTL after the last renewal, however the
renewals fail or block); and taking over from an earlier YARN attempt only on the RM's word."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from kinesis_pipelines.app import control, yarn_attempts
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.app.fencing import FenceKeeper, RenewalClock, fence_identity, take_fence
from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.launch.submit import driver_config
from kinesis_pipelines.operations.deploy import receiver_plan
from kinesis_pipelines_tests.e2e.helpers import make_spec


def test_yarn_attempts_of_one_application_share_a_prefix() -> None:
    owner, earlier = fence_identity({"CONTAINER_ID": "container_e03_1700000000000_0007_02_000001"}, "g1")
    assert owner == "yarn:application_1700000000000_0007:2:g1"
    assert earlier == "yarn:application_1700000000000_0007:"
    second, _ = fence_identity({"CONTAINER_ID": "container_1700000000000_0007_03_000001"}, "g1")
    assert second.startswith(earlier) and second != owner


def test_a_launcher_named_owner_wins_and_a_plain_process_takes_over_from_nobody() -> None:
    assert fence_identity({control.FENCE_OWNER_ENV: "local-1:2", "CONTAINER_ID": "x"}, "g") == (
        "local-1:2",
        None,
    )
    owner, earlier = fence_identity({}, "g")
    assert owner.endswith(":g") and earlier is None


def test_with_the_write_ahead_log_the_receivers_keep_one_replica() -> None:
    """Spark keeps one replica under the write-ahead log whatever the level says, and warns for
    every receiver; asking for one says the same without the noise."""
    from kinesis_pipelines.app.receiver_app import effective_storage_level

    assert effective_storage_level("MEMORY_AND_DISK_2", write_ahead_log=True) == "MEMORY_AND_DISK"
    assert effective_storage_level("MEMORY_AND_DISK_2", write_ahead_log=False) == "MEMORY_AND_DISK_2"
    assert effective_storage_level("DISK_ONLY", write_ahead_log=True) == "DISK_ONLY"


# --- keeping the fence: a manual clock, a real (in-process) DynamoDB -----------------------------

TABLE, APP = "kp-fence", "app-keep"


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        fence.ensure_fence_table(client, TABLE)
        yield client


def config() -> DriverConfig:
    spec = make_spec("keep", shards=1)
    connection = AwsConnection(region="us-east-1")
    base = driver_config(spec, receiver_plan(spec, 1), connection, "g1", "control")
    return base.model_copy(update={"application_name": APP, "fence_table": TABLE})


class Unreachable:
    """A fence client whose every call fails after taking `seconds` of the manual clock."""

    def __init__(self, clock: ManualClock, seconds: float) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, 0

    def update_item(self, **_: Any) -> Any:
        self.calls += 1
        self.clock.sleep(self.seconds)
        raise EndpointConnectionError(endpoint_url="https://dynamodb.invalid")


def keeper_for(
    client: Any, held: fence.FenceState, clock: ManualClock, deadlines: list[float]
) -> FenceKeeper:
    def wait(seconds: float) -> bool:
        clock.sleep(seconds)
        return False

    return FenceKeeper(
        client, config(), TABLE, held, clock=clock, wait=wait, on_deadline=lambda: deadlines.append(clock.now)
    )


def test_a_renewal_failing_for_two_thirds_of_the_ttl_sets_lost(dynamodb: Any) -> None:
    clock = ManualClock()
    held = fence.take(dynamodb, TABLE, APP, "driver-a", clock=clock, ttl=30.0)
    client = Unreachable(clock, seconds=1.0)  # every call fails after 1 s (a blocked one: below)
    keeper = keeper_for(client, held, clock, [])
    keeper.run()  # returns once lost
    assert keeper.lost.is_set() and not keeper.holding()
    assert 20.0 <= clock.now <= 21.0  # 2/3 of the TTL after the take, not later
    assert client.calls >= 5  # it kept trying until then


def test_a_keeper_that_renews_keeps_the_fence_and_its_token(dynamodb: Any) -> None:
    clock = ManualClock()
    held = fence.take(dynamodb, TABLE, APP, "driver-a", clock=clock, ttl=30.0)
    done_after = [0]

    def wait(seconds: float) -> bool:
        clock.sleep(seconds)
        done_after[0] += 1
        return done_after[0] > 20  # 20 renewal periods: 100 s, more than three TTLs

    keeper = FenceKeeper(dynamodb, config(), TABLE, held, clock=clock, wait=wait)
    keeper.run()
    assert not keeper.lost.is_set() and keeper.holding()
    assert keeper.token == held.token
    assert fence.read(dynamodb, TABLE, APP).version > held.version + 15  # type: ignore[union-attr]


def test_a_keeper_whose_fence_was_taken_stops_at_once(dynamodb: Any) -> None:
    clock = ManualClock()
    held = fence.take(dynamodb, TABLE, APP, "driver-a", clock=clock, ttl=30.0)
    other = ManualClock()
    newer = fence.take(dynamodb, TABLE, APP, "driver-b", clock=other, sleep=other.sleep)
    deadlines: list[float] = []
    keeper = keeper_for(dynamodb, held, clock, deadlines)
    keeper.run()
    assert keeper.lost.is_set() and clock.now == pytest.approx(5.0)  # the first renewal
    assert newer.token > keeper.token


def test_a_renewal_that_blocks_is_bounded_and_the_process_is_ended_if_it_does_not_stop() -> None:
    """Real time, a short TTL: the call never returns, the keeper does not wait for it."""

    class Blocked:
        def update_item(self, **_: Any) -> Any:
            threading.Event().wait(60)

    held = fence.FenceState("driver-a", 1, 1, 0.6, 0.0, sent_at=time.monotonic())
    ended = threading.Event()
    keeper = FenceKeeper(Blocked(), config(), TABLE, held, on_deadline=ended.set)
    started = time.monotonic()
    keeper.start()
    assert keeper.lost.wait(5)
    assert time.monotonic() - started < 0.4 + 0.2  # lost 2/3 of the TTL after the take
    assert ended.wait(5)  # then the hard stop, at 5/6 of the TTL
    assert time.monotonic() - started < 0.5 + 0.3


def test_the_renewal_schedule() -> None:
    schedule = RenewalClock(ttl=30.0, renewed_at=100.0)
    assert schedule.deadline == 120.0
    assert schedule.delay(100.0, failed=False) == 5.0
    assert schedule.delay(100.0, failed=True) == 1.0
    assert schedule.delay(119.5, failed=False) == 0.5
    assert not schedule.lost(119.9) and schedule.lost(120.0)


# --- taking over from an earlier YARN attempt: the ResourceManager's word --------------------------


@pytest.fixture
def resource_manager() -> Iterator[dict[str, Any]]:
    """A tiny local HTTP server answering the RM's appattempts REST shape."""
    attempts: dict[str, Any] = {"appAttempt": []}
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"appAttempts": attempts}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"127.0.0.1:{server.server_address[1]}", "attempts": attempts, "asked": asked}
    finally:
        server.shutdown()


def yarn_site(folder: Path, address: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "yarn-site.xml").write_text(
        "<configuration><property><name>yarn.resourcemanager.webapp.address</name>"
        f"<value>{address}</value></property></configuration>"
    )
    return {"HADOOP_CONF_DIR": str(folder)}


APPLICATION = "application_1700000000000_0007"


@pytest.mark.parametrize(
    ("reported", "taken_at_once"),
    [
        ({"id": 1, "appAttemptState": "FAILED", "finishedTime": 1700000001000}, True),
        ({"id": 1, "finishedTime": 1700000001000}, True),  # an RM without the state field
        ({"id": 1, "appAttemptState": "RUNNING", "finishedTime": 0}, False),  # a split, not a death
        ({"id": 2, "appAttemptState": "KILLED", "finishedTime": 5}, False),  # another attempt
    ],
)
def test_an_earlier_yarn_attempt_is_taken_over_at_once_only_once_the_rm_says_it_ended(
    dynamodb: Any,
    resource_manager: dict[str, Any],
    tmp_path: Path,
    reported: dict[str, Any],
    taken_at_once: bool,
) -> None:
    resource_manager["attempts"]["appAttempt"] = [reported]
    environ = yarn_site(tmp_path / "conf", resource_manager["url"])
    first, earlier = fence_identity({"CONTAINER_ID": f"container_{APPLICATION[12:]}_01_000001"}, "g1")
    second, _ = fence_identity({"CONTAINER_ID": f"container_{APPLICATION[12:]}_02_000001"}, "g1")
    held = fence.take(dynamodb, TABLE, APP, first, ttl=30.0)
    clock = ManualClock()
    taken = take_fence(
        dynamodb, config(), TABLE, second, earlier, environ=environ, clock=clock, sleep=clock.sleep
    )
    assert taken.token == held.token + 1
    assert (clock.now < 30.0) is taken_at_once  # otherwise: waited out the TTL like anyone
    assert resource_manager["asked"][0] == f"/ws/v1/cluster/apps/{APPLICATION}/appattempts"


def test_an_unreachable_rm_or_no_address_is_not_proof_of_an_end(tmp_path: Path) -> None:
    owner = f"yarn:{APPLICATION}:1:g1"
    assert not yarn_attempts.owner_attempt_ended(owner, {}, tmp_path)  # no configuration
    environ = yarn_site(tmp_path / "conf", "127.0.0.1:9")  # nothing listens there
    assert not yarn_attempts.owner_attempt_ended(owner, environ, tmp_path)


def test_the_rm_address_shipped_with_the_application_master_comes_first(tmp_path: Path) -> None:
    yarn_site(tmp_path / "__spark_conf__" / "__hadoop_conf__", "rm-shipped:8088")
    environ = yarn_site(tmp_path / "conf", "rm-env:8088")
    assert yarn_attempts.resource_manager_url(environ, tmp_path) == "http://rm-shipped:8088"
    assert yarn_attempts.resource_manager_url(environ, tmp_path / "elsewhere") == "http://rm-env:8088"
