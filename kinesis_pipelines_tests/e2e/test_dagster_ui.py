"""Launched the way the UI launches: a real dagster-webserver and dagster-daemon on
workspace.yaml, the deploy job submitted through the GraphQL API, the stream consumed, the stop
job run, and no Spark process left."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.processes import alive
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import load_spec
from kinesis_pipelines_tests.e2e.helpers import wait_all_out
from kinesis_pipelines_tests.support.dagster_services import LOCATION, REPO, dagster_services, wait_run

pytestmark = pytest.mark.e2e

RECORDS = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"


@pytest.fixture
def services(tmp_path: Path, local_aws, assembly_jar) -> Iterator[DagsterGraphQLClient]:
    with dagster_services(tmp_path) as client:
        yield client


def test_deploy_and_stop_from_the_graphql_api(services, cleanup_drivers) -> None:
    client = services
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
