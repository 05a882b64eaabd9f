"""An operator's stop must stick while the daemon runs the health sensor.

A real dagster-webserver and dagster-daemon on workspace.yaml (the health sensor `records__health`
RUNNING by default, evaluated every 5 s by the daemon), `records__deploy` and then `records__stop`
launched through the GraphQL API. After each stop, for WATCH_SECONDS: no driver
of `records` may run again and the sensor may not create a `records__restart` run, while the
sensor is seen ticking (else the watch would prove nothing).

Only the package's stable modules are imported (processes, producer, spec): everything else is
observed from the outside, through GraphQL, /proc and the sink directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import load_spec
from kinesis_pipelines_tests.support.dagster_services import (
    LOCATION,
    REPO,
    dagster_services,
    runs_of,
    wait_run,
)

pytestmark = pytest.mark.e2e

RECORDS = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"
PIPELINE = "records"
DEPLOY_JOB = f"{PIPELINE}__deploy"
STOP_JOB = f"{PIPELINE}__stop"
RESTART_JOB = f"{PIPELINE}__restart"
HEALTH_SENSOR = f"{PIPELINE}__health"

CYCLES = 1  # the bug brought the driver back in the first cycle, 30-39 s after the stop
WATCH_SECONDS = 45
"""How long after each stop nothing may bring the driver back (the bug did it after 30-39 s)."""
MIN_TICKS_DURING_WATCH = 3
"""Sensor evaluations the watch must see (every 5 s nominally), or it proves nothing."""
STOP_TIMEOUT_SECONDS = 60
IDS_PER_CYCLE = 200


# --- the services, as test_production_instance.py starts them (on the development instance) ---


@pytest.fixture
def services(tmp_path: Path, session_home: Path, local_aws, assembly_jar) -> Iterator[DagsterGraphQLClient]:
    """The services, and this session's drivers left behind (by a restart run, say) killed
    after they stop."""
    try:
        with dagster_services(tmp_path) as client:
            yield client
    finally:
        killed = kill_drivers(session_home)
        if killed:
            print(f"cleanup: killed leftover {PIPELINE} driver processes {killed}", flush=True)


def assert_success(client: DagsterGraphQLClient, run_id: str, what: str) -> None:
    status = wait_run(client, run_id)
    assert status is DagsterRunStatus.SUCCESS, f"{what}: run {run_id} {status}: {run_errors(client, run_id)}"


# --- GraphQL queries ---------------------------------------------------------------------------

REPOSITORIES_QUERY = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError { ... on RepositoryLocation { repositories { name } } }
      }
    }
  }
}
"""

RUN_FAILURE_QUERY = """
query RunFailure($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      eventConnection(limit: 1000) {
        events {
          __typename
          ... on ExecutionStepFailureEvent { stepKey error { message cause { message } } }
          ... on RunFailureEvent { message }
        }
      }
    }
  }
}
"""

TICKS_QUERY = """
query Ticks($selector: SensorSelector!, $after: Float!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState {
        status
        ticks(afterTimestamp: $after, limit: 200) {
          tickId status timestamp endTimestamp runIds skipReason error { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def repository_name(client: DagsterGraphQLClient) -> str:
    entries = client._execute(REPOSITORIES_QUERY)["workspaceOrError"]["locationEntries"]
    entry = next(e for e in entries if e["name"] == LOCATION)
    repositories = entry["locationOrLoadError"]["repositories"]
    assert len(repositories) == 1, repositories
    return str(repositories[0]["name"])


def run_errors(client: DagsterGraphQLClient, run_id: str) -> list[str]:
    """What made a run fail: its step failures (with their cause) and the run failure."""
    answer = client._execute(RUN_FAILURE_QUERY, {"runId": run_id})["runOrError"]
    if answer["__typename"] != "Run":
        return [str(answer)]
    errors = []
    for event in answer["eventConnection"]["events"]:
        if event["__typename"] == "ExecutionStepFailureEvent":
            error = event["error"] or {}
            cause = (error.get("cause") or {}).get("message", "")
            errors.append(f"{event['stepKey']}: {error.get('message', '').strip()} {cause.strip()}")
        elif event["__typename"] == "RunFailureEvent":
            errors.append(str(event["message"]))
    return errors


def sensor_ticks(
    client: DagsterGraphQLClient, repository: str, after: float
) -> tuple[str, list[dict[str, Any]]]:
    selector = {"repositoryLocationName": LOCATION, "repositoryName": repository, "sensorName": HEALTH_SENSOR}
    answer = client._execute(TICKS_QUERY, {"selector": selector, "after": after})["sensorOrError"]
    assert answer["__typename"] == "Sensor", answer
    state = answer["sensorState"]
    return str(state["status"]), list(state["ticks"])


# --- the driver, seen from /proc ---------------------------------------------------------------


def driver_processes(home: Path) -> dict[int, str]:
    """Live processes (pid: cmdline) of a `records` driver of this session: the shell that leads
    its group, spark-submit's JVM and the Python driver all name receiver_app.py and the job file
    under <home>/pipelines/records/."""
    marker = f"{home}/pipelines/{PIPELINE}/"
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and "receiver_app.py" in cmdline and marker in cmdline:
            found[int(entry.name)] = cmdline.strip()
    return found


def kill_drivers(home: Path) -> list[int]:
    """SIGKILL every driver process of this session (the home is private to it): a whole group
    when its leader is one of them (the driver's shell), else the process alone."""
    killed: list[int] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = driver_processes(home)
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                pgid = os.getpgid(pid)
                if pgid in found:
                    os.killpg(pgid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.5)
    return sorted(set(killed))


def wait_driver(home: Path, timeout: float = 120) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = driver_processes(home)
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {PIPELINE} driver process after {timeout:.0f} s")


def sink_lines(root: Path) -> set[str]:
    lines: set[str] = set()
    for part in root.glob("batch-*/part-*"):
        with contextlib.suppress(OSError):
            lines.update(part.read_text().splitlines())
    return lines


def wait_out(root: Path, ids: list[str], timeout: float = 150) -> float:
    started = time.monotonic()
    wanted = set(ids)
    while time.monotonic() - started < timeout:
        missing = wanted - sink_lines(root)
        if not missing:
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"{len(missing)} of {len(ids)} ids not in {root} after {timeout:.0f} s")


# --- the test ----------------------------------------------------------------------------------


def test_stop_sticks_while_the_daemon_runs_the_health_sensor(services, local_aws, session_home: Path) -> None:
    client: DagsterGraphQLClient = services
    spec = load_spec(RECORDS)
    assert spec.name == PIPELINE
    repository = repository_name(client)
    sink = Path(spec.job.sink.path)
    sink = sink if sink.is_absolute() else session_home / sink
    kinesis = boto3.client(
        "kinesis",
        endpoint_url=local_aws.kinesis_endpoint,
        region_name=local_aws.region,
        verify=local_aws.ca_bundle,
    )
    test_started = time.monotonic()
    try:
        for cycle in range(1, CYCLES + 1):
            assert not driver_processes(session_home), f"cycle {cycle}: a driver runs before deploy"
            t0 = time.monotonic()
            deploy_id = client.submit_job_execution(DEPLOY_JOB, repository_location_name=LOCATION)
            assert_success(client, deploy_id, f"cycle {cycle}: {DEPLOY_JOB}")
            deploy_s = time.monotonic() - t0
            drivers = wait_driver(session_home)
            alive_s = time.monotonic() - t0

            ids = unique_ids(f"daemon-stop-c{cycle}-{int(time.time())}", IDS_PER_CYCLE)
            put_all(kinesis, spec.stream.name, ids)
            out_s = wait_out(sink, ids)

            restarts_before = {run["runId"] for run in runs_of(client, RESTART_JOB)}
            assert driver_processes(session_home), f"cycle {cycle}: the driver died before the stop"
            stop_launched_at = time.time()
            t1 = time.monotonic()
            stop_id = client.submit_job_execution(
                STOP_JOB,
                repository_location_name=LOCATION,
                run_config={
                    "ops": {f"{PIPELINE}__stop_driver": {"config": {"timeout_seconds": STOP_TIMEOUT_SECONDS}}}
                },
            )
            assert_success(client, stop_id, f"cycle {cycle}: {STOP_JOB}")
            stop_s = time.monotonic() - t1

            # the watch: collect every violation with when it was first seen
            watch_started_at = time.time()
            driver_seen: dict[int, tuple[float, str]] = {}
            restart_seen: dict[str, dict[str, Any]] = {}
            next_runs_query = 0.0
            while time.time() - watch_started_at < WATCH_SECONDS:
                now = time.time()
                for pid, cmdline in driver_processes(session_home).items():
                    driver_seen.setdefault(pid, (now - stop_launched_at, cmdline))
                if now >= next_runs_query:
                    for run in runs_of(client, RESTART_JOB):
                        if run["runId"] not in restarts_before:
                            restart_seen[run["runId"]] = run  # latest status
                    next_runs_query = now + 2
                time.sleep(0.5)
            watch_ended_at = time.time()

            sensor_status, ticks = sensor_ticks(client, repository, stop_launched_at)
            watch_ticks = [
                t
                for t in ticks
                if watch_started_at <= t["timestamp"] <= watch_ended_at and t["status"] != "STARTED"
            ]
            requested = sorted({r for t in ticks for r in t["runIds"]})
            new_drivers = {pid: seen for pid, seen in driver_seen.items() if pid not in drivers}
            print(
                f"cycle {cycle}: deploy SUCCESS in {deploy_s:.1f} s, driver alive at {alive_s:.1f} s, "
                f"{IDS_PER_CYCLE} ids out in {out_s:.1f} s, stop SUCCESS in {stop_s:.1f} s; "
                f"watched {watch_ended_at - watch_started_at:.0f} s: sensor {sensor_status}, "
                f"{len(watch_ticks)} ticks in the watch ({len(ticks)} since the stop launch), "
                f"restart runs {len(restart_seen)}, driver pids seen {sorted(driver_seen)}",
                flush=True,
            )
            for run in restart_seen.values():
                print(
                    f"  {RESTART_JOB} run {run['runId']} {run['status']} created "
                    f"{run['creationTime'] - stop_launched_at:+.1f} s after the stop launch, "
                    f"tags {[(t['key'], t['value']) for t in run['tags']]}",
                    flush=True,
                )
            for pid, (after, cmdline) in sorted(driver_seen.items()):
                kind = "a NEW driver" if pid in new_drivers else "the stopped driver still"
                print(
                    f"  {kind} pid {pid} seen {after:.1f} s after the stop launch: {cmdline[:200]}",
                    flush=True,
                )

            problems = []
            if restart_seen:
                first = min(run["creationTime"] for run in restart_seen.values()) - stop_launched_at
                problems.append(
                    f"the health sensor created {len(restart_seen)} {RESTART_JOB} run(s) after the "
                    f"stop (first {first:.1f} s after the stop launch; sensor run ids {requested})"
                )
            if driver_seen:
                first = min(after for after, _ in driver_seen.values())
                problems.append(
                    f"a {PIPELINE} driver ran after the stop succeeded (first seen {first:.1f} s "
                    f"after the stop launch, pids {sorted(driver_seen)}, new {sorted(new_drivers)})"
                )
            assert not problems, f"cycle {cycle}: " + "; ".join(problems)
            assert sensor_status == "RUNNING", f"cycle {cycle}: sensor {sensor_status}"
            assert len(watch_ticks) >= MIN_TICKS_DURING_WATCH, (
                f"cycle {cycle}: only {len(watch_ticks)} sensor ticks in {WATCH_SECONDS} s after "
                f"the stop: the watch proves nothing ({ticks})"
            )
            errors = [t["error"]["message"][:300] for t in watch_ticks if t["error"]]
            print(
                f"  tick statuses {[t['status'] for t in watch_ticks]}"
                + (f"; errors {errors}" if errors else ""),
                flush=True,
            )
    finally:
        # launch nothing; kill what a run of ours may have left
        killed = kill_drivers(session_home)
        if killed:
            print(f"killed leftover {PIPELINE} driver processes {killed}", flush=True)
        print(f"total {time.monotonic() - test_started:.0f} s in the test body", flush=True)
