"""A pipeline on YARN in cluster mode, checkpoints and sink on HDFS (Hadoop's own minicluster):
the driver lives in YARN's ApplicationMaster, YARN's attempts recover it from the HDFS checkpoint,
the supervisor resubmits once they are spent, a graceful stop ends SUCCEEDED, and a rebalance
rolls the job to a new application."""

from __future__ import annotations

import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.control import DriverInfo
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.launch import DriverRecord, DriverState, YarnLauncher
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.operations.deploy import roll_for_rebalance
from kinesis_pipelines.orchestration.metadata import look_metadata
from kinesis_pipelines.planning.health import Health
from kinesis_pipelines.producer import Accounting, account, put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.tools import spark_submit
from kinesis_pipelines_tests.e2e.helpers import job_metadata, make_spec, materialize, wait_for
from kinesis_pipelines_tests.support.yarn import YarnCluster, kill_container

pytestmark = pytest.mark.e2e

SPARK_JARS = Path(spark_submit()).parent.parent / "jars"


def yarn_spec(name: str, cluster: YarnCluster, shards: int, attempts: int = 3, **job: Any) -> PipelineSpec:
    spec = make_spec(
        name,
        shards,
        master="yarn",
        hadoop_conf_dir=str(cluster.conf_dir),
        python=sys.executable,
        checkpoint_dir=f"{cluster.default_fs}/kp/checkpoints",
        sink={"path": f"{cluster.default_fs}/kp/out/{name}"},
        spark_conf={
            "spark.driver.memory": "768m",
            "spark.executor.memory": "768m",
            # Spark's jars are on every node of this one-host cluster: no upload per submit
            "spark.yarn.jars": f"local:{SPARK_JARS}/*",
            # the driver and executors bind to loopback on this one-host cluster
            "spark.yarn.appMasterEnv.SPARK_LOCAL_IP": "127.0.0.1",
            "spark.executorEnv.SPARK_LOCAL_IP": "127.0.0.1",
        },
        **job,
    )
    restart = spec.supervision.restart.model_copy(update={"driver_attempts": attempts, "backoff_seconds": 1})
    return spec.model_copy(update={"supervision": spec.supervision.model_copy(update={"restart": restart})})


def yarn_of(backends: operations.Backends) -> YarnLauncher:
    launcher = backends.launcher
    assert isinstance(launcher, YarnLauncher)
    return launcher


def out_tally(spec: PipelineSpec, backends: operations.Backends, ids: list[str]) -> Accounting:
    sink = spec.job.sink.path
    return account(ids, read_output(sink, yarn_of(backends).files(sink)))


def wait_all_out(
    spec: PipelineSpec, backends: operations.Backends, ids: list[str], timeout: float
) -> Accounting:
    deadline = time.monotonic() + timeout
    while True:
        tally = out_tally(spec, backends, ids)
        if tally.lost == 0 or time.monotonic() > deadline:
            return tally
        time.sleep(2)


def kill_am_container(backends: operations.Backends, record: DriverRecord) -> int:
    """SIGKILL the ApplicationMaster's current container; returns the attempt that was killed."""
    attempts = yarn_of(backends).attempts(record)
    container = attempts[-1]["containerId"]
    assert kill_container(container), f"no process of {container} found"
    return len(attempts)


def healthy_look(spec: PipelineSpec, backends: operations.Backends) -> operations.Look | None:
    """The supervisor's look once it sees every receiver active and batches completing."""
    look = operations.supervise(spec, backends)
    active = look_metadata(look).get("active_receivers") == 2 and look_metadata(look).get("completed_batches")
    return look if look.verdict.health is Health.HEALTHY and active else None


def attempt_started(launcher: YarnLauncher, record: DriverRecord, attempt: int) -> DriverInfo | None:
    """The driver info of YARN's `attempt`, once that attempt's driver runs its streaming context."""
    if launcher.status(record).attempt != attempt:
        return None
    info = launcher.driver_info(record)
    return info if info and info.fence_owner.endswith(f":{attempt}:{record.generation}") else None


class SteadyProducer(threading.Thread):
    """Puts `ids` at a steady rate in the background, so records flow while drivers die."""

    def __init__(self, backends: operations.Backends, stream: str, ids: list[str], rate: float) -> None:
        super().__init__(daemon=True)
        self.backends, self.stream, self.ids, self.rate = backends, stream, ids, rate
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            put_all(self.backends.stream.client, self.stream, self.ids, rate_per_second=self.rate)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_yarn_cluster_mode_survives_am_kills_and_resubmits_when_attempts_are_spent(
    local_aws, assembly_jar, yarn_cluster: YarnCluster, cleanup_drivers
) -> None:
    spec = yarn_spec("on_yarn", yarn_cluster, shards=2, attempts=3)
    cleanup_drivers.append(spec)
    backends = backends_for(spec)
    deployed = operations.deploy(spec, backends)
    record = deployed.job.record
    assert record is not None and record.driver_id.startswith("application_")
    launcher = yarn_of(backends)
    app = launcher.application(record)
    assert app is not None and app["state"] == "RUNNING"
    info = launcher.driver_info(record)
    assert info is not None and info.application_id == record.driver_id
    # the health sensor's view: Spark's monitoring API through the ResourceManager's proxy
    look = wait_for(partial(healthy_look, spec, backends), 120, "both receivers seen through the RM's proxy")
    assert look_metadata(look)["active_receivers"] == record.receivers == 2
    assert int(str(look_metadata(look)["completed_batches"])) > 0
    assert look_metadata(look)["spark_ui"] == f"http://{yarn_cluster.rm_web}/proxy/{record.driver_id}"

    ids = unique_ids("yarn", 10_000)
    producer = SteadyProducer(backends, spec.stream.name, ids, rate=100)
    producer.start()
    # two ApplicationMaster kills while records flow: YARN's attempts 2 and 3 recover
    for expected_next in (2, 3):
        wait_for(lambda: out_tally(spec, backends, ids).distinct > 0, 180, "records out before the kill")
        killed = kill_am_container(backends, record)
        assert killed == expected_next - 1
        recovered = wait_for(
            partial(attempt_started, launcher, record, expected_next), 240, f"YARN's attempt {expected_next}"
        )
        assert recovered.recovered_from_checkpoint
        assert launcher.status(record).state is DriverState.RUNNING
    producer.join()
    assert producer.error is None, producer.error
    tally = wait_all_out(spec, backends, ids, timeout=300)
    ledger = read_totals(ledger_dir(spec), launcher.files(ledger_dir(spec)))
    print(f"after two ApplicationMaster kills: {tally.model_dump()}; ledger {ledger}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    status = launcher.status(record)
    assert status.attempt == 3 and len(status.relaunched_at) == 2
    look = operations.supervise(spec, backends)
    assert look.restarts_in_window == 2  # YARN's relaunches spend the budget too

    # the attempts are spent: a third kill fails the application; the supervisor resubmits
    kill_am_container(backends, record)
    wait_for(lambda: launcher.status(record).state is DriverState.FAILED, 120, "the application to fail")
    look = operations.supervise(spec, backends)
    # the supervisor decides to restart; on a busy machine an earlier look may already have asked
    # (a stall of attempt 3 while its API was slow through the proxy), and that request stands
    assert look.decision is not None and look.decision.restart, (look.verdict, look.decision, look.memory)
    assert look.request_restart or look.memory.restart_requested_for == look.memory.driver_id, look.memory
    restarted = operations.restart(
        spec, backends, expected_driver_id=record.driver_id, graceful=False, requested_by="supervisor"
    )
    assert restarted.action == "restarted", restarted
    assert restarted.record is not None and restarted.record.driver_id != record.driver_id
    assert restarted.recovered_from_checkpoint
    more = unique_ids("yarn-after", 1_000)
    put_all(backends.stream.client, spec.stream.name, more)
    tally = wait_all_out(spec, backends, ids + more, timeout=240)
    print(f"after the supervisor's resubmit: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    assert len(backends.store.restarts().times) == 1

    # a graceful stop: a last batch, then YARN reports FINISHED/SUCCEEDED
    final = operations.stop(spec, backends)
    assert final is not None and final.state is DriverState.FINISHED, final
    app = launcher.application(restarted.record)
    assert app is not None and (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app


def test_rebalance_rolls_the_job_to_a_new_yarn_application(
    local_aws, assembly_jar, yarn_cluster: YarnCluster, cleanup_drivers
) -> None:
    """Deployed through the Dagster assets, as from the UI."""
    spec = yarn_spec("yarn_roll", yarn_cluster, shards=1, executor_cores=4)
    cleanup_drivers.append(spec)
    backends = backends_for(spec)
    meta = job_metadata(materialize(spec), spec)
    assert (meta["master"], meta["receivers"]) == ("yarn", 1)
    first = backends.store.driver()
    assert first is not None and first.driver_id.startswith("application_")
    ids = unique_ids("roll", 500)
    put_all(backends.stream.client, spec.stream.name, ids[:250])
    backends.stream.client.update_shard_count(
        StreamName=spec.stream.name, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
    )
    wait_for(lambda: len(backends.stream.open_shard_ids()) == 2, 120, "the reshard")
    rolled = roll_for_rebalance(spec, backends)
    assert rolled.action == "replaced", rolled
    assert rolled.record is not None and rolled.record.driver_id != first.driver_id
    assert rolled.record.receivers == 2
    old = yarn_of(backends).application(first)
    assert old is not None and old["finalStatus"] == "SUCCEEDED", old  # stopped gracefully
    put_all(backends.stream.client, spec.stream.name, ids[250:])
    tally = wait_all_out(spec, backends, ids, timeout=240)
    print(f"across the roll on YARN: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    operations.stop(spec, backends)
