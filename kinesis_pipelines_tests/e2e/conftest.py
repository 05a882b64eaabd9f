from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.home import HOME_ENV
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines_tests.support.yarn import YarnCluster

DRIVER_LOG_LINES = 80
"""Lines of each driver log a failed e2e test shows: what a CI failure needs to be understood."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed e2e test shows the tail of every driver log written while it ran (the state home
    is removed with the session, and with it the only account of what the drivers did)."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or not os.environ.get(HOME_ENV):
        return
    since = time.time() - (call.duration + 5)
    for log in sorted(Path(os.environ[HOME_ENV]).glob("**/driver.log")):
        if log.stat().st_mtime < since:
            continue
        lines = [
            line for line in log.read_text(errors="replace").splitlines() if not line.startswith("\tat ")
        ]
        report.sections.append(
            (
                f"driver log {log.parent.name} (last {DRIVER_LOG_LINES} lines)",
                "\n".join(lines[-DRIVER_LOG_LINES:]),
            )
        )


@pytest.fixture(autouse=True)
def delete_new_streams(request: pytest.FixtureRequest) -> Iterator[None]:
    """The streams a test created on the session's embedded AWS are deleted after it (after its
    drivers are stopped): kinesis-mock rewrites every record it holds at each save, so records
    that earlier tests left behind would slow every Kinesis call of the tests after them."""
    if "local_aws" not in request.fixturenames:
        yield
        return
    state = request.getfixturevalue("local_aws")
    client = boto3.client(
        "kinesis", region_name="us-east-1", endpoint_url=state.endpoint("kinesis"), verify=state.ca_bundle
    )
    before = set(_stream_names(client))
    yield
    for name in sorted(set(_stream_names(client)) - before):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def _stream_names(client: Any) -> list[str]:
    return [name for page in client.get_paginator("list_streams").paginate() for name in page["StreamNames"]]


@pytest.fixture
def cleanup_drivers() -> Iterator[list[PipelineSpec]]:
    """Specs appended here get their drivers killed after the test, pass or fail."""
    specs: list[PipelineSpec] = []
    yield specs
    for spec in specs:
        backends = backends_for(spec)
        record = backends.store.driver()
        if record is not None:
            backends.launcher.kill(record)


@pytest.fixture(scope="session")
def yarn_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YarnCluster]:
    """One real YARN and HDFS (Hadoop's minicluster) for the session, stopped however it ends."""
    cluster = YarnCluster(tmp_path_factory.mktemp("yarn"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def own_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """An embedded AWS of the test's own, for a test that restarts its emulators (the session's
    is shared), with the state home beside it."""
    monkeypatch.setenv("KINESIS_PIPELINES_HOME", str(tmp_path))
    aws = LocalAws(tmp_path)
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()
