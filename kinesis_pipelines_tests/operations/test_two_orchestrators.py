"""A stop stays stopped and one driver runs, whatever two orchestrators do at the same moment.

Two orchestrator processes, each with its own state home (two Dagster hosts), race on one
pipeline in the shared embedded AWS: stop against restart, and deploy against deploy, 20 rounds
each, with seeded random delays so the commands interleave differently every round. After each
round the outcome matches the last operator intent recorded (running: exactly one driver runs,
the one the driver record names and the fence's holder; stopped: none runs).

The lock, the versioned control records and the fence are the real ones (aws/oplock.py,
aws/control.py, aws/fence.py against the embedded DynamoDB), and so are the operations
(deploy_job, restart, stop). Only the driver is a stand-in: fake_driver.py takes the fence,
reports itself in its control directory, and exits on its stop marker, where Spark would take
a minute to start; what is under test is the orchestrators' lock and records, not Spark."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from kinesis_pipelines.aws import fence
from kinesis_pipelines.emulators.local_aws import STATE_FILE
from kinesis_pipelines.home import HOME_ENV
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.operations.deploy import ensure_app_table
from kinesis_pipelines.processes import stop_group
from kinesis_pipelines_tests.e2e.helpers import make_spec
from kinesis_pipelines_tests.operations.race_worker import TOKEN_ENV

ROUNDS = 20


class Orchestrator:
    def __init__(self, name: str, spec_json: str, home: Path, env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kinesis_pipelines_tests.operations.race_worker", spec_json],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**env, HOME_ENV: str(home)},
        )  # fmt: skip
        assert self.read(timeout=120).get("ready")

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def read(self, timeout: float = 180) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        assert got and got[0], f"orchestrator {self.name} did not answer within {timeout:.0f} s"
        return json.loads(got[0])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def fake_drivers(token: str) -> list[int]:
    """The fake drivers of this test still running (not zombies)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().split(") ", 1)[1][0]
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if f"{TOKEN_ENV}={token}".encode() in environ and b"fake_driver" in cmdline and state != "Z":
            found.append(int(entry))
    return found


@pytest.fixture
def race(local_aws, assembly_jar, session_home: Path, tmp_path: Path):
    token = f"race-{os.getpid()}-{time.time_ns()}"
    spec = make_spec("race", shards=1)
    backends = backends_for(spec)
    ensure_app_table(spec, backends, backends.stream.ensure_stream())
    env = {**os.environ, TOKEN_ENV: token, "KP_FAKE_DYNAMODB": local_aws.dynamodb_endpoint,
           "AWS_CA_BUNDLE": local_aws.ca_bundle}  # fmt: skip
    hosts = []
    for name in ("a", "b"):
        home = tmp_path / f"host-{name}"
        home.mkdir()
        shutil.copy(session_home / STATE_FILE, home / STATE_FILE)
        hosts.append(Orchestrator(name, spec.model_dump_json(), home, env))
    try:
        yield spec, hosts, token
    finally:
        for host in hosts:
            host.close()
        for pid in fake_drivers(token):
            stop_group(pid, grace_seconds=0)


def both(hosts: list[Orchestrator], commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for host, command in zip(hosts, commands, strict=True):
        host.send(command)
    return [host.read() for host in hosts]


def check_outcome(spec, token: str, round_: int, answers: list[dict[str, Any]]) -> str:
    """The outcome matches the intent recorded last: one driver (the recorded one, holding the
    fence) or none."""
    store = backends_for(spec).store
    intent = store.intent()
    assert intent is not None and not intent.unreadable
    running = fake_drivers(token)
    context = f"round {round_}: intent {intent.desired} by {intent.by}; answers {answers}; running {running}"
    assert not [a for a in answers if "error" in a], context
    if intent.desired == "stopped":
        assert running == [], context
        return "stopped"
    assert len(running) == 1, context
    record = store.driver()
    assert record is not None and record.pid == running[0], context
    holder = fence.current(
        backends_for(spec).dynamodb, spec.supervision.fence_table, spec.app_table.application_name
    )
    assert holder is not None and holder[0].split(":")[1] == str(running[0]), (holder, context)
    return "running"


def test_a_stop_against_a_restart_on_another_host_ends_as_the_last_intent_says(race) -> None:
    spec, (a, b), token = race
    rng = random.Random(19)
    outcomes: dict[str, int] = {}
    for round_ in range(ROUNDS):
        if not fake_drivers(token):
            assert "error" not in both([a, b], [{"op": "deploy"}, {"op": "restart", "by": "supervisor"}])[0]
        # host B's restart: the sensor's (automatic) in even rounds, an operator's in odd ones
        restart = {
            "op": "restart",
            "by": "supervisor" if round_ % 2 == 0 else "operator",
            "delay": rng.uniform(0, 0.6),
        }
        answers = both([a, b], [{"op": "stop", "delay": rng.uniform(0, 0.6)}, restart])
        outcome = check_outcome(spec, token, round_, answers)
        key = f"{restart['by']} restart {answers[1].get('action')}, {outcome}"
        outcomes[key] = outcomes.get(key, 0) + 1
    print(f"stop against restart, {ROUNDS} rounds: {outcomes}")
    assert sum(n for k, n in outcomes.items() if k.startswith("supervisor") and k.endswith("running")) == 0


def test_two_deploys_from_two_hosts_leave_exactly_one_driver(race) -> None:
    spec, (a, b), token = race
    rng = random.Random(20)
    drained = 0
    for round_ in range(ROUNDS):
        # different specs (batch interval 2 s and 3 s): each deploy rolls to its own generation
        answers = both(
            [a, b],
            [{"op": "deploy", "batch_interval": 2, "delay": rng.uniform(0, 0.5)},
             {"op": "deploy", "batch_interval": 3, "delay": rng.uniform(0, 0.5)}],
        )  # fmt: skip
        assert check_outcome(spec, token, round_, answers) == "running"
        drained += sum(1 for answer in answers if answer.get("drained"))
    print(f"deploy against deploy, {ROUNDS} rounds: old generation drained {drained} time(s)")
    assert drained >= ROUNDS  # every roll to the other generation drained the one before
    both([a, b], [{"op": "stop"}, {"op": "stop"}])
    assert fake_drivers(token) == []
