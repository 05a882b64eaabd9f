"""The same spec on a Spark standalone cluster: only the master changes. Receivers run in an
executor JVM of their own, so the endpoints and trust must reach executors, not only the driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import (
    active_receivers,
    job_metadata,
    make_spec,
    materialize,
    wait_all_out,
    wait_for,
)
from kinesis_pipelines_tests.support.standalone_cluster import StandaloneCluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def cluster(session_home: Path) -> Iterator[StandaloneCluster]:
    with StandaloneCluster(session_home, workers=1, cores_per_worker=3) as running:
        yield running


def test_standalone_cluster_consumes_every_record(local_aws, assembly_jar, cluster, cleanup_drivers) -> None:
    spec = make_spec("on_cluster", shards=2, executor_cores=3, master=cluster.master_url)
    cleanup_drivers.append(spec)
    meta = job_metadata(materialize(spec), spec)
    assert meta["master"] == cluster.master_url
    assert meta["receivers"] == 2
    receivers = wait_for(lambda: active_receivers(spec), 150, "receivers on the cluster")
    assert {r["executorId"] for r in receivers} != {"driver"}  # they run in an executor
    ids = unique_ids("cluster", 3_000)
    backends = operations.backends_for(spec)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids)
    print(f"accounting on the cluster: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    operations.stop(spec, backends)
