"""The production set-up of deploy/ on a real PostgreSQL, one instance for the module: the
migrate unit, then the code server, the webserver and the daemon, each started with its systemd
unit's own command (and readiness check) in a cgroup of its own (support/systemd_units.py).

- Restarts: the shipped `records` pipeline is deployed through GraphQL; records flow while each
  service is restarted the way its unit's KillMode makes systemd restart it. The driver (the
  same process) runs on, every record is out once, and the restarted services see the pipeline
  healthy. Under KillMode=mixed on the code server this test fails: the driver is in its cgroup.
  The health sensor is stopped (through the UI's API) from the first restart until every record
  is out: on a machine this busy, the restarts' own load (each loads the definitions) slowed the
  driver to a batch every 20 s, and the sensor's stall rule replaced it, which is supervision's
  business (test_supervision.py), not the restarts'. Started again, it must record the same
  driver healthy and ask for no restart.
- Supervision, on the same deployment afterwards: the driver is SIGKILLed and the daemon's
  health sensor restarts it with nothing lost; the stop job, as the UI launches it, leaves no
  Spark process. The runs and the sensor's ticks are rows in PostgreSQL.
(The development instance, dagster_home/, is the one test_stop_through_daemon.py runs.)"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import DagsterRunStatus

from kinesis_pipelines.operations import backends_for, monitoring
from kinesis_pipelines.processes import alive, start_ticks
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec, load_spec
from kinesis_pipelines_tests.e2e.helpers import wait_all_out, wait_for
from kinesis_pipelines_tests.e2e.supervision_helpers import group_members
from kinesis_pipelines_tests.support.background import Background
from kinesis_pipelines_tests.support.dagster_services import (
    LOCATION,
    REPO,
    ProductionInstance,
    production_services,
    runs_of,
    wait_run,
)
from kinesis_pipelines_tests.support.postgres import Postgres, postgres_bin, postgres_server

pytestmark = pytest.mark.e2e

RECORDS = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"


@pytest.fixture(scope="module")
def production(
    tmp_path_factory: pytest.TempPathFactory, local_aws, assembly_jar
) -> Iterator[tuple[ProductionInstance, Postgres]]:
    """One production instance for the module: PostgreSQL, then deploy/'s services as their
    units start them."""
    tmp_path = tmp_path_factory.mktemp("production")
    with postgres_server() as pg:
        env = {
            "DAGSTER_PG_HOST": pg.host,
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": pg.user,
            "DAGSTER_PG_PASSWORD": pg.password,
            "DAGSTER_PG_DB": pg.database,
        }
        with production_services(tmp_path, env) as instance:
            yield instance, pg


def sql(pg: Postgres, query: str) -> str:
    psql = [postgres_bin("psql"), "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-tA", pg.database]
    done = subprocess.run(
        [*psql, "-c", query],
        env={**os.environ, "PGPASSWORD": pg.password},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


OBSERVATIONS_QUERY = """
query Observations($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset {
      assetObservations(limit: 5) {
        timestamp
        metadataEntries { label ... on TextMetadataEntry { text } }
      }
    }
  }
}
"""


def observed_health(instance: ProductionInstance, spec: PipelineSpec, since: float) -> str | None:
    """The health the sensor last recorded on the streaming-job asset after `since` (epoch
    seconds), as the webserver serves it; None if it recorded none since."""
    answer = instance.client._execute(OBSERVATIONS_QUERY, {"path": [spec.name, "streaming_job"]})
    asset = answer["assetOrError"]
    assert asset["__typename"] == "Asset", asset
    for observation in asset["assetObservations"]:  # newest first
        if float(observation["timestamp"]) / 1000 > since:
            entries = {e["label"]: e.get("text") for e in observation["metadataEntries"]}
            return entries.get("health")
    return None


SENSOR_QUERY = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { id selectorId status } }
    ... on PythonError { message }
  }
}
"""
STOP_SENSOR = """
mutation Stop($id: String, $selectorId: String) {
  stopSensor(id: $id, jobSelectorId: $selectorId) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
  }
}
"""
START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
  }
}
"""


@contextlib.contextmanager
def health_sensor_paused(instance: ProductionInstance, spec: PipelineSpec) -> Iterator[None]:
    """The pipeline's health sensor stopped through the UI's API, and started again however the
    block ends (its state is in PostgreSQL, so it stays stopped across the restarts)."""
    selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                "sensorName": f"{spec.name}__health"}  # fmt: skip
    sensor = instance.client._execute(SENSOR_QUERY, {"selector": selector})["sensorOrError"]
    assert sensor["__typename"] == "Sensor", sensor
    state = sensor["sensorState"]
    stopped = instance.client._execute(STOP_SENSOR, {"id": state["id"], "selectorId": state["selectorId"]})
    assert stopped["stopSensor"]["__typename"] == "StopSensorMutationResult", stopped
    try:
        yield
    finally:
        started = instance.client._execute(START_SENSOR, {"selector": selector})["startSensor"]
        assert started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING", started


class Trickle(Background):
    """Puts ids on the stream, a few every second, from a thread, until stopped."""

    join_seconds = 60.0

    def __init__(self, spec: PipelineSpec, ids: list[str], per_second: int = 20) -> None:
        super().__init__("trickle")
        self.client = backends_for(spec).stream.client
        self.stream = spec.stream.name
        self.ids = ids
        self.per_second = per_second
        self.sent: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set() and len(self.sent) < len(self.ids):
                chunk = self.ids[len(self.sent) : len(self.sent) + self.per_second]
                put_all(self.client, self.stream, chunk)
                self.sent += chunk
                self.stopping.wait(1.0)
        except BaseException as exc:  # reported by check()
            self.error = exc

    def check(self) -> list[str]:
        assert self.error is None, f"the producer failed: {self.error!r}"
        return self.sent


class Sampler(Background):
    """The driver's own view (Spark's streaming statistics) every few seconds, from a thread: what
    a failure needs to tell a driver the restarts broke from one this busy machine starved."""

    FIELDS = ("numTotalCompletedBatches", "numActiveBatches", "numReceivedRecords", "numProcessedRecords",
              "numActiveReceivers", "avgSchedulingDelay")  # fmt: skip

    def __init__(self, spec: PipelineSpec, every: float = 3.0) -> None:
        super().__init__("sampler")
        self.backends = backends_for(spec)
        self.every = every
        self.samples: list[str] = []

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                record = self.backends.store.driver()
                stats = monitoring.streaming_statistics(self.backends.launcher, record) if record else None
                said = " ".join(str(stats.get(f, "-")) for f in self.FIELDS) if stats else "silent"
            except Exception as exc:  # a diagnostic: say it and go on
                said = f"{type(exc).__name__}: {exc}"
            self.samples.append(f"{time.strftime('%H:%M:%S')} {said}")

    def finished(self) -> None:
        print(f"the driver's statistics ({', '.join(self.FIELDS)}):\n" + "\n".join(self.samples))


def driver_processes(pid: int) -> dict[str, Any]:
    """What makes the driver the same process: its id, its start, and its session's members
    (the attempts runner, spark-submit's JVM, the Python driver and its workers)."""
    return {"pid": pid, "start_ticks": start_ticks(pid), "members": sorted(group_members(pid))}


def outlived(pid: int, before: dict[str, Any]) -> bool:
    """The driver `before` still runs: the same process leads its group, and every member it had
    still does (Spark forks and ends Python workers as it goes: members may be added)."""
    now = driver_processes(pid)
    return now["start_ticks"] == before["start_ticks"] and set(before["members"]) <= set(now["members"])


def test_drivers_outlive_service_restarts_and_the_daemon_restarts_a_killed_one(
    production, cleanup_drivers
) -> None:
    """The promise of deploy/systemd, then supervision on it, on one deployed driver (one deploy and
    one stop for both: the module's time is mostly the driver's start and the records' wait).
    Restarting the code server, the webserver or the daemon (an upgrade, a crash) leaves the
    driver running and loses no record; then the driver is SIGKILLed and the daemon's health sensor
    restarts it with nothing lost; the stop job, as the UI launches it, leaves no Spark process;
    the runs and the sensor's ticks are rows in PostgreSQL."""
    instance, pg = production
    client = instance.client
    spec = load_spec(RECORDS)
    cleanup_drivers.append(spec)
    backends = backends_for(spec)
    run_id = client.submit_job_execution(f"{spec.name}__deploy", repository_location_name=LOCATION)
    assert wait_run(client, run_id) is DagsterRunStatus.SUCCESS
    record = backends.store.driver()
    assert record is not None and record.pid is not None
    try:
        with Sampler(spec):
            restart_every_service(instance, spec, record.pid)
    finally:  # the pipeline's files (driver log, supervisor's memory), kept beside the services' logs
        shutil.copytree(backends.store.root, instance.home.parent / spec.name, dirs_exist_ok=True)
    current = backends.store.driver()
    assert current is not None and current.driver_id == record.driver_id

    # supervision by the restarted daemon: a killed driver is restarted, nothing lost
    asked_before = {r["runId"] for r in runs_of(client, f"{spec.name}__restart")}
    os.killpg(record.pid, signal.SIGKILL)
    restarted = wait_for(
        lambda: [
            r
            for r in runs_of(client, f"{spec.name}__restart")
            if r["status"] == "SUCCESS" and r["runId"] not in asked_before
        ],
        240,
        "the daemon's health sensor to restart the driver",
    )
    assert restarted
    replacement = backends.store.driver()
    assert replacement is not None and replacement.driver_id != record.driver_id
    ids = unique_ids("production", 500)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"after the daemon's restart: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    # what the UI showed lives in PostgreSQL
    assert int(sql(pg, "SELECT count(*) FROM runs")) >= 2
    assert int(sql(pg, "SELECT count(*) FROM job_ticks")) > 0

    # the stop job, as the UI launches it: a last batch, then no Spark process left
    stop_id = client.submit_job_execution(
        f"{spec.name}__stop",
        repository_location_name=LOCATION,
        run_config={"ops": {f"{spec.name}__stop_driver": {"config": {"timeout_seconds": 60}}}},
    )
    assert wait_run(client, stop_id) is DagsterRunStatus.SUCCESS
    assert replacement.pid is not None and not alive(replacement.pid)
    assert not group_members(replacement.pid), "a Spark process outlived the stop"
    assert backends.launcher.status(replacement).state.value == "FINISHED"
    assert not alive(record.pid) and not group_members(record.pid)


def restart_every_service(instance: ProductionInstance, spec: PipelineSpec, pid: int) -> None:
    """Records before, during and after a restart of each service; the driver `pid` is the same
    process throughout, every record is out once, and the restarted services see it healthy."""
    began = time.time()
    backends = backends_for(spec)
    driver = driver_processes(pid)
    code_server = instance.services["code-server"].cgroup
    if code_server.mode == "cgroup":
        # what makes the restart dangerous: the run that started the driver ran in the code server
        assert pid in code_server.pids(), "the driver is not in the code server's cgroup"
    ids = unique_ids("restarts", 2_400)
    before, during, after = ids[:300], ids[300:2_100], ids[2_100:]
    put_all(backends.stream.client, spec.stream.name, before)
    assert wait_all_out(spec, before, timeout=180).lost == 0

    stops = []
    started = time.monotonic()
    with health_sensor_paused(instance, spec):
        with Trickle(spec, during) as trickle:
            for name in ("code-server", "webserver", "daemon"):
                stops.append(instance.restart(name))
                print(f"{time.strftime('%H:%M:%S')} restarted {name}: {stops[-1]}")
                assert outlived(pid, driver), (
                    f"the driver did not outlive the {name}'s restart: {driver} then {driver_processes(pid)}"
                )
        print(f"{time.strftime('%H:%M:%S')} the three restarts took {time.monotonic() - started:.0f} s")
        sent = trickle.check()
        assert sent, "nothing was produced during the restarts"
        put_all(backends.stream.client, spec.stream.name, after)
        tally = wait_all_out(spec, before + sent + after, timeout=240)
        counts = f"{len(before)} before, {len(sent)} during, {len(after)} after the restarts"
        print(f"{time.strftime('%H:%M:%S')} records: {counts}: {tally.model_dump()}")
        assert (tally.lost, tally.duplicates) == (0, 0), tally
    resumed_at = time.time()
    assert outlived(pid, driver), f"the driver ended after the restarts: {driver_processes(pid)}"

    # the restarted services see the same driver, healthy: the sensor, started again through the
    # restarted webserver, ran by the restarted daemon on the restarted code server, records it
    health = wait_for(
        lambda: observed_health(instance, spec, since=resumed_at),
        150,
        "the health sensor to record the pipeline after the restarts",
    )
    assert health == "healthy", health
    for check in instance.run_oneshot("healthcheck"):  # deploy/'s health checks, on the restarted services
        print(check.stdout.strip())
    restarts = [r for r in runs_of(instance.client, f"{spec.name}__restart") if r["creationTime"] > began]
    replaced = [{t["key"]: t["value"] for t in run["tags"]} for run in restarts]
    assert not replaced, f"the health sensor replaced the driver: {replaced}"
    assert driver_processes(pid) == driver
