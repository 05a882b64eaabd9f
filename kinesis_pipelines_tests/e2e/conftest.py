from __future__ import annotations

from collections.abc import Iterator

import pytest

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
