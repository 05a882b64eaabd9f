"""The Dagster host is replaced: its state home is gone, and a fresh one starts with nothing but
the pipeline's YAML. The driver record, the restart history and the reshard ledger live in the
control table in DynamoDB, so the new host finds the running job, restarts it within the budget
the old host already spent, and rebalances within the quota already spent, counting a reshard
made elsewhere too. Checkpoints and the sink live off the host (as on HDFS or S3)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.emulators.local_aws import STATE_FILE
from kinesis_pipelines.home import HOME_ENV
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.planning.reshard import Metrics
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import materialize, wait_all_out, wait_for
from kinesis_pipelines_tests.e2e.supervision_helpers import Supervisor, kill_driver
from kinesis_pipelines_tests.e2e.test_supervision import supervised_spec

pytestmark = pytest.mark.e2e

DAY_QUOTA = 10


def test_a_replacement_host_finds_the_job_its_budget_and_its_quota(
    local_aws, assembly_jar, cleanup_drivers, session_home: Path, tmp_path: Path, monkeypatch
) -> None:
    shared = tmp_path / "shared"  # off the host: checkpoints and output outlive it
    spec = supervised_spec(
        "replaced_host", checkpoint_dir=str(shared / "checkpoints"), sink={"path": str(shared / "out")}
    )
    cleanup_drivers.append(spec)
    materialize(spec)
    ids = unique_ids("host", 1_500)
    put_all(backends_for(spec).stream.client, spec.stream.name, ids[:500])
    assert wait_all_out(spec, ids[:500]).lost == 0

    # the old host: one restart after a kill, one reshard
    old_supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    kill_driver(spec)
    old_supervisor.tick_until_restarted()
    backends = backends_for(spec)
    outcome = operations.rebalance(
        spec, backends, now=time.time(), metrics=Metrics(incoming_records_per_s=2_000)
    )
    assert outcome.applied, outcome
    assert len(backends.store.restarts().times) == 1 and len(backends.store.reshards().calls) == 1
    running = backends.store.driver()
    assert running is not None

    # the host is replaced: a fresh state home, with only the embedded AWS's address (on real
    # AWS, the endpoints are the spec's)
    shutil.rmtree(session_home / "pipelines" / spec.name)  # the old host's files of this pipeline
    fresh = tmp_path / "fresh-host"
    fresh.mkdir()
    shutil.copy(session_home / STATE_FILE, fresh / STATE_FILE)
    monkeypatch.setenv(HOME_ENV, str(fresh))
    assert not (fresh / "pipelines").exists()
    backends = backends_for(spec)
    found = backends.store.driver()
    assert found is not None and found.driver_id == running.driver_id  # found in DynamoDB
    assert len(backends.store.restarts().times) == 1

    new_supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    kill_driver(spec)
    new_supervisor.tick_until_restarted()
    look = operations.supervise(spec, backends_for(spec))
    assert look.restarts_in_window == 2  # the old host's restart still counts
    assert len(backends.store.restarts().times) == 2
    put_all(backends.stream.client, spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"across the host's replacement: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally

    # a reshard made elsewhere is noticed and counted with the old host's
    shards = len(backends.stream.open_shard_ids())
    backends.stream.client.update_shard_count(
        StreamName=spec.stream.name, TargetShardCount=shards + 2, ScalingType="UNIFORM_SCALING"
    )
    wait_for(lambda: len(backends.stream.open_shard_ids()) == shards + 2, 120, "the outside reshard")
    preview = operations.rebalance(
        spec, backends, now=time.time(), dry_run=True, metrics=Metrics(incoming_records_per_s=10_000)
    )
    assert preview.plan is not None
    assert preview.plan.quota_left == DAY_QUOTA - 2, preview.plan
    assert len(backends.store.reshards().calls) == 2
    operations.stop(spec, backends)
