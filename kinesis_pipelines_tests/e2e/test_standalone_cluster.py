"""The same spec on a Spark standalone cluster: only the master, the driver's address and shared
paths change. Receivers run in an executor JVM of their own, so the endpoints and trust must reach
executors, not only the driver.

The cluster and the driver use an address that is not a loopback address (198.18.0.1, from the
range reserved for network tests, added to this host's loopback interface by the test and removed
after it): the executors must reach the driver there, so nothing in the submit may pin the driver
to 127.0.0.1."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kinesis_pipelines import operations
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.tools import require
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

TEST_ADDRESS = "198.18.0.1"  # RFC 2544's benchmarking range: never routed anywhere


@pytest.fixture
def non_loopback_address() -> Iterator[str]:
    """A non-loopback address of this host that only this host reaches, removed afterwards."""
    ip = require("ip", "add a test address to this host")
    added = subprocess.run(
        [ip, "addr", "add", f"{TEST_ADDRESS}/32", "dev", "lo"], capture_output=True, text=True
    )
    if added.returncode != 0 and "File exists" not in added.stderr:
        pytest.fail(f"could not add {TEST_ADDRESS} to lo (needs root): {added.stderr.strip()}")
    try:
        yield TEST_ADDRESS
    finally:
        if added.returncode == 0:
            subprocess.run([ip, "addr", "del", f"{TEST_ADDRESS}/32", "dev", "lo"], check=False)


@pytest.fixture
def cluster(session_home: Path, non_loopback_address: str) -> Iterator[StandaloneCluster]:
    with StandaloneCluster(session_home, workers=1, cores_per_worker=3, host=non_loopback_address) as running:
        yield running


def test_standalone_cluster_reaches_the_driver_off_loopback(
    local_aws, assembly_jar, cluster, cleanup_drivers, session_home: Path
) -> None:
    shared = session_home / "shared"  # a folder every node (this host) mounts
    spec = make_spec(
        "on_cluster", shards=2, executor_cores=3, master=cluster.master_url, driver_host=cluster.host,
        checkpoint_dir=f"file://{shared}/checkpoints", sink={"path": f"file://{shared}/out"},
    )  # fmt: skip
    cleanup_drivers.append(spec)
    meta = job_metadata(materialize(spec), spec)
    assert meta["master"] == cluster.master_url
    assert meta["receivers"] == 2
    receivers = wait_for(lambda: active_receivers(spec), 150, "receivers on the cluster")
    assert {r["executorId"] for r in receivers} != {"driver"}  # they run in an executor
    backends = operations.backends_for(spec)
    record = backends.store.driver()
    info = backends.launcher.driver_info(record) if record else None
    assert record is not None and info is not None
    api = f"{record.ui_url}/api/v1/applications/{info.application_id}"
    assert record.ui_url.startswith(f"http://{cluster.host}:")
    properties = dict(requests.get(f"{api}/environment", timeout=10).json()["sparkProperties"])
    assert properties["spark.driver.host"] == cluster.host
    executors = [e for e in requests.get(f"{api}/executors", timeout=10).json() if e["id"] != "driver"]
    assert executors and all(e["hostPort"].startswith(f"{cluster.host}:") for e in executors), executors
    ids = unique_ids("cluster", 3_000)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids)
    print(f"accounting on the cluster: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    operations.stop(spec, backends)
