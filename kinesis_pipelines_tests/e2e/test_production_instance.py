"""The production set-up of deploy/ on a real PostgreSQL: the code server started with its
systemd unit's command, dagster-webserver and dagster-daemon on deploy/workspace.yaml and
deploy/dagster.yaml. The shipped `records` pipeline is deployed through GraphQL, its driver is
SIGKILLed, and the daemon's health sensor restarts it with nothing lost; the stop job, as the UI
launches it, leaves no Spark process. The runs and the sensor's ticks are rows in PostgreSQL.
(The development instance, dagster_home/, is the one test_stop_through_daemon.py runs.)"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.processes import alive, free_port, start_group, stop_group, wait_for_port
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import load_spec
from kinesis_pipelines_tests.e2e.helpers import wait_all_out, wait_for
from kinesis_pipelines_tests.e2e.supervision_helpers import group_members
from kinesis_pipelines_tests.support.dagster_services import (
    LOCATION,
    PRODUCTION_INSTANCE,
    REPO,
    dagster_home_of,
    dagster_services,
    runs_of,
    wait_run,
)
from kinesis_pipelines_tests.support.postgres import Postgres, postgres_bin, postgres_server

pytestmark = pytest.mark.e2e

RECORDS = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"


DEPLOY = REPO / "deploy"


@contextlib.contextmanager
def code_server(tmp_path: Path, env: dict[str, str]) -> Iterator[Path]:
    """The code server as its systemd unit starts it (this checkout and venv, a free port, the
    services' environment); yields deploy/workspace.yaml pointed at that port."""
    unit = (DEPLOY / "systemd" / "kinesis-pipelines-code-server.service").read_text()
    command = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    port = free_port()
    argv = shlex.split(command.replace("/opt/kinesis-pipelines/.venv/bin", str(Path(sys.executable).parent)))
    argv[argv.index("-p") + 1] = str(port)
    home = dagster_home_of(tmp_path)
    home.mkdir()
    shutil.copyfile(PRODUCTION_INSTANCE, home / "dagster.yaml")
    server_env = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    server = start_group(argv, tmp_path / "code-server.log", env=server_env, cwd=REPO)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text((DEPLOY / "workspace.yaml").read_text().replace("port: 4266", f"port: {port}"))
    try:
        assert wait_for_port(port, 180, server), (tmp_path / "code-server.log").read_text()[-2000:]
        yield workspace
    finally:
        stop_group(server.pid, grace_seconds=10)


@pytest.fixture
def production(tmp_path: Path, local_aws, assembly_jar) -> Iterator[tuple[DagsterGraphQLClient, Postgres]]:
    with postgres_server() as pg:
        env = {
            "DAGSTER_PG_HOST": pg.host,
            "DAGSTER_PG_PORT": str(pg.port),
            "DAGSTER_PG_USER": pg.user,
            "DAGSTER_PG_PASSWORD": pg.password,
            "DAGSTER_PG_DB": pg.database,
        }
        with (
            code_server(tmp_path, env) as workspace,
            dagster_services(tmp_path, instance=PRODUCTION_INSTANCE, env=env, workspace=workspace) as client,
        ):
            yield client, pg


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


def test_the_daemon_on_postgres_restarts_a_killed_driver(production, cleanup_drivers) -> None:
    client, pg = production
    spec = load_spec(RECORDS)
    cleanup_drivers.append(spec)
    run_id = client.submit_job_execution(f"{spec.name}__deploy", repository_location_name=LOCATION)
    assert wait_run(client, run_id) is DagsterRunStatus.SUCCESS
    backends = backends_for(spec)
    ids = unique_ids("production", 1_000)
    put_all(backends.stream.client, spec.stream.name, ids[:500])
    assert wait_all_out(spec, ids[:500], timeout=180).lost == 0

    record = backends.store.driver()
    assert record is not None and record.pid is not None
    os.killpg(record.pid, signal.SIGKILL)
    restarted = wait_for(
        lambda: [r for r in runs_of(client, f"{spec.name}__restart") if r["status"] == "SUCCESS"],
        240,
        "the daemon's health sensor to restart the driver",
    )
    assert restarted
    replacement = backends.store.driver()
    assert replacement is not None and replacement.driver_id != record.driver_id
    put_all(backends.stream.client, spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"on the production instance: {tally.model_dump()}")
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
