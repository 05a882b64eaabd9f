"""Launched the way the UI launches: a real dagster-webserver and dagster-daemon on
workspace.yaml, the deploy job submitted through the GraphQL API, the stream consumed, the stop
job run, and no Spark process left."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.processes import alive, free_port, start_group, stop_group, wait_for_port
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import load_spec
from kinesis_pipelines_tests.e2e.helpers import wait_all_out

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
RECORDS = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"
LOCATION = "kinesis_pipelines"


@pytest.fixture
def dagster_services(tmp_path: Path, local_aws, assembly_jar) -> Iterator[DagsterGraphQLClient]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    # Create the instance's storage once, here: a webserver and a daemon starting together
    # would both migrate the new SQLite schema and can leave it with two alembic heads.
    DagsterInstance.from_config(str(home)).dispose()
    bin_dir = Path(sys.executable).parent
    port = free_port()
    webserver = start_group(
        [
            str(bin_dir / "dagster-webserver"),
            "-w",
            str(REPO / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        tmp_path / "webserver.log",
        env=env,
        cwd=REPO,
    )
    daemon = start_group(
        [str(bin_dir / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
        tmp_path / "daemon.log",
        env=env,
        cwd=REPO,
    )
    try:
        assert wait_for_port(port, 180, webserver), (tmp_path / "webserver.log").read_text()[-3000:]
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        wait_location_loaded(client)
        yield client
    finally:
        stop_group(daemon.pid, grace_seconds=10)
        stop_group(webserver.pid, grace_seconds=10)


LOCATION_QUERY = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


def wait_location_loaded(client: DagsterGraphQLClient, timeout: float = 300) -> None:
    """The webserver answers before its code server has loaded the location: wait for it, and
    show the load error if there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = client._execute(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        entry = next((e for e in entries if e["name"] == LOCATION), None)
        if entry and entry["loadStatus"] == "LOADED":
            loaded = entry["locationOrLoadError"]
            assert loaded["__typename"] == "RepositoryLocation", loaded.get("message")
            return
        time.sleep(1)
    raise AssertionError(f"code location {LOCATION} not loaded after {timeout:.0f} s")


def wait_run(client: DagsterGraphQLClient, run_id: str, timeout: float = 400) -> DagsterRunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id)
        if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
            return status
        time.sleep(1)
    raise AssertionError(f"run {run_id} still {status} after {timeout:.0f} s")


def test_deploy_and_stop_from_the_graphql_api(dagster_services, cleanup_drivers) -> None:
    client = dagster_services
    spec = load_spec(RECORDS)
    cleanup_drivers.append(spec)
    run_id = client.submit_job_execution("records__deploy", repository_location_name=LOCATION)
    assert wait_run(client, run_id) is DagsterRunStatus.SUCCESS

    backends = backends_for(spec)
    record = backends.store.driver()
    assert record is not None and record.pid is not None and alive(record.pid)
    ids = unique_ids(f"ui{int(time.time())}", 2_000)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids)
    assert tally.lost == 0, tally

    stop_id = client.submit_job_execution(
        "records__stop",
        repository_location_name=LOCATION,
        run_config={"ops": {"records__stop_driver": {"config": {"timeout_seconds": 60}}}},
    )
    assert wait_run(client, stop_id) is DagsterRunStatus.SUCCESS
    assert not alive(record.pid)
    assert not _group_members(record.pid), "a Spark process outlived the stop"
    assert backends.launcher.status(record).state.value == "FINISHED"


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().split(") ", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members
