from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines_tests.support.yarn import YarnCluster


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
