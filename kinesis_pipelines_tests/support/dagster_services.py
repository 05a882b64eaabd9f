"""A real Dagster webserver and daemon for end-to-end tests, driven through GraphQL."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from kinesis_pipelines.processes import free_port, start_group, stop_group, wait_for_port

REPO = Path(__file__).resolve().parents[2]
LOCATION = "kinesis_pipelines"


DEV_INSTANCE = REPO / "dagster_home" / "dagster.yaml"


def dagster_home_of(tmp_path: Path) -> Path:
    return tmp_path / "dagster_home"


PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"


@contextmanager
def dagster_services(
    tmp_path: Path,
    instance: Path = DEV_INSTANCE,
    env: dict[str, str] | None = None,
    workspace: Path = REPO / "workspace.yaml",
) -> Iterator[DagsterGraphQLClient]:
    """A real dagster-webserver and dagster-daemon on workspace.yaml, each in its own process
    group, with DAGSTER_HOME in `tmp_path` holding `instance` as its dagster.yaml (and `env`
    added to theirs); stopped (daemon first) however the block ends."""
    home = dagster_home_of(tmp_path)
    home.mkdir(exist_ok=True)
    shutil.copyfile(instance, home / "dagster.yaml")
    env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(home)}
    # Create the instance's storage once, here: a webserver and a daemon starting together
    # would both migrate the new SQLite schema and can leave it with two alembic heads.
    saved = dict(os.environ)
    os.environ.update(env)  # the instance's config reads its settings from the environment
    try:
        DagsterInstance.from_config(str(home)).dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    bin_dir = Path(sys.executable).parent
    port = free_port()
    webserver = start_group(
        [
            str(bin_dir / "dagster-webserver"),
            "-w",
            str(workspace),
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
        [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
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


RUNS_QUERY = """
query Runs($job: String!) {
  runsOrError(filter: {pipelineName: $job}) {
    __typename
    ... on Runs { results { runId status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""


def runs_of(client: DagsterGraphQLClient, job: str) -> list[dict[str, Any]]:
    answer = client._execute(RUNS_QUERY, {"job": job})["runsOrError"]
    assert answer["__typename"] == "Runs", answer
    return list(answer["results"])
