"""A real Dagster webserver and daemon for end-to-end tests, driven through GraphQL; and the
production set-up of deploy/ (`production_services`): the code server, webserver and daemon
started with their systemd units' own commands, each in a cgroup of its own, restartable the way
their units' KillMode says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from kinesis_pipelines.processes import free_port, start_group, stop_group, wait_for_port
from kinesis_pipelines_tests.support.systemd_units import (
    DEPLOY,
    DEPLOYED_ROOT,
    UNITS,
    UnitService,
    cgroups,
    command_line,
    read_unit,
)

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


# a service the module is done with gets this long to exit on its unit's signal, then SIGKILL
TEARDOWN_STOP_SECONDS = 15.0
SERVICES = ("code-server", "webserver", "daemon")  # started in this order, stopped in reverse


def unit_path(name: str) -> Path:
    return UNITS / f"kinesis-pipelines-{name}.service"


@dataclass
class ProductionInstance:
    """deploy/'s three services running on one DAGSTER_HOME and PostgreSQL."""

    client: DagsterGraphQLClient
    services: dict[str, UnitService]
    home: Path
    env: dict[str, str]
    substitutions: dict[str, str]
    code_port: int
    web_port: int

    def restart(self, name: str) -> dict[str, object]:
        """Stop `name` as its unit's KillMode makes systemd stop it, start it again with its
        unit's command, and wait until the webserver sees the code location loaded."""
        stopped = self.services[name].restart()
        if name == "webserver":
            assert wait_for_port(self.web_port, 180), self.services[name].log_path.read_text()[-3000:]
        wait_location_loaded(self.client)
        return stopped

    def run_oneshot(self, name: str) -> list[subprocess.CompletedProcess[str]]:
        """Every ExecStart= of a one-shot unit (migrate, healthcheck) against this instance, with
        the unit's Environment=; each must succeed."""
        unit = read_unit(unit_path(name))
        env = {**self.env, **unit.environment}
        done = []
        for line in unit.values("ExecStart"):
            argv = command_line(line, self.substitutions)
            result = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=180)
            assert result.returncode == 0, (
                f"{name}: {argv} exited {result.returncode}: {result.stdout}{result.stderr}"
            )
            done.append(result)
        return done


@contextmanager
def production_services(tmp_path: Path, env: Mapping[str, str]) -> Iterator[ProductionInstance]:
    """deploy/ as an operator installs it, with this checkout and venv in place of
    /opt/kinesis-pipelines, free ports in place of 4266 and 3000, and `env` (the PostgreSQL
    settings) in place of the environment files: the migrate unit first, then the code server,
    the webserver and the daemon, each started by its unit's ExecStart= (and ExecStartPost=) in
    its own cgroup. Stopped as their units say, and whatever is left in their cgroups killed,
    however the block ends."""
    home = dagster_home_of(tmp_path)
    home.mkdir(exist_ok=True)
    shutil.copyfile(PRODUCTION_INSTANCE, home / "dagster.yaml")
    code_port, web_port = free_port(), free_port()
    workspace = tmp_path / "workspace.yaml"
    deployed = (DEPLOY / "workspace.yaml").read_text()
    assert "port: 4266" in deployed, "deploy/workspace.yaml no longer names the code server's port 4266"
    workspace.write_text(deployed.replace("port: 4266", f"port: {code_port}"))
    substitutions = {
        re.escape(f"{DEPLOYED_ROOT}/.venv/bin"): str(Path(sys.executable).parent),
        re.escape(f"{DEPLOYED_ROOT}/deploy/workspace.yaml"): str(workspace),
        r"-p 4266\b": f"-p {code_port}",
        r"-p 3000\b": f"-p {web_port}",
        r"127\.0\.0\.1:3000\b": f"127.0.0.1:{web_port}",
    }
    full_env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    with cgroups(SERVICES) as groups:
        services: dict[str, UnitService] = {}
        for name in SERVICES:
            unit = read_unit(unit_path(name))
            services[name] = UnitService(
                unit=unit,
                cgroup=groups[name],
                substitutions=substitutions,
                env={**full_env, **unit.environment},
                cwd=REPO,
                log_path=tmp_path / f"{name}.log",
            )
        instance = ProductionInstance(
            client=DagsterGraphQLClient("127.0.0.1", port_number=web_port),
            services=services,
            home=home,
            env=full_env,
            substitutions=substitutions,
            code_port=code_port,
            web_port=web_port,
        )
        started: list[UnitService] = []
        try:
            instance.run_oneshot("migrate")  # creates the schema on the empty database
            for name in SERVICES:
                services[name].start()
                started.append(services[name])
            wait_location_loaded(instance.client)
            yield instance
        finally:
            for service in reversed(started):
                if service.process is not None:
                    service.stop(timeout_seconds=TEARDOWN_STOP_SECONDS)
