"""A pipeline on YARN (cluster mode, Hadoop's minicluster on this machine, checkpoints on HDFS):

    .venv/bin/python bench/yarn.py

- submit-to-first-batch through the package (`deploy`) against a hand-typed
  `spark-submit --master yarn --deploy-mode cluster` of the same application and files, in one
  run, as a ratio ("first batch": the first completed batch in Spark's monitoring API, read
  through the ResourceManager's proxy);
- from a SIGKILL of the ApplicationMaster's container to the first record written after YARN's
  next attempt recovered (a record produced after the kill and found in the HDFS sink; not the
  first batch, which a checkpoint replay completes before any read);
- resident memory of the minicluster's JVM and of the application's containers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import first_batch, isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.assembly.build import build_assembly
from kinesis_pipelines.launch import YarnLauncher
from kinesis_pipelines.launch.submit import build_submit_request, write_code_archive
from kinesis_pipelines.operations.deploy import receiver_plan
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import runtime_with, spark_of
from kinesis_pipelines.tools import spark_submit
from kinesis_pipelines_tests.support.yarn import YarnCluster, application_pids, kill_container, rss_mib


def spec_for(name: str, cluster: YarnCluster) -> PipelineSpec:
    jars = Path(spark_submit()).parent.parent / "jars"
    return PipelineSpec.model_validate(
        {
            "name": name,
            "stream": {"name": f"bench-yarn-{name}", "endpoint_url": "embedded", "shards": 2},
            "app_table": {"application_name": f"bench-yarn-{name}", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {
                "master": "yarn",
                "hadoop_conf_dir": str(cluster.conf_dir),
                "python": sys.executable,
                "checkpoint_dir": f"{cluster.default_fs}/bench/checkpoints",
                "sink": {"path": f"{cluster.default_fs}/bench/out-{name}"},
                "executor_cores": 3,
                "spark_conf": {
                    "spark.driver.memory": "768m",
                    "spark.executor.memory": "768m",
                    "spark.yarn.jars": f"local:{jars}/*",
                    "spark.yarn.appMasterEnv.SPARK_LOCAL_IP": "127.0.0.1",
                    "spark.executorEnv.SPARK_LOCAL_IP": "127.0.0.1",
                },
            },
        }
    )


def main() -> None:
    home = isolated_home()
    from kinesis_pipelines.emulators.local_aws import LocalAws

    cluster = YarnCluster(home / "yarn")
    started = time.monotonic()
    cluster.start()
    print(f"minicluster up in       {time.monotonic() - started:.1f} s")
    try:
        with LocalAws():
            run(cluster)
    finally:
        cluster.stop()


def run(cluster: YarnCluster) -> None:
    jar = build_assembly()
    rm = f"http://{cluster.rm_web}"
    # Hand-typed: the exact argv the package would run, with its files, submitted directly.
    hand = spec_for("by_hand", cluster)
    hand_backends = operations.backends_for(hand)
    launcher = hand_backends.launcher
    assert isinstance(launcher, YarnLauncher)
    stream = hand_backends.stream.ensure_stream()
    hand_backends.app_table.ensure_table(stream.all_shards, hand_backends.stream.oldest_sequence_number)
    request = build_submit_request(
        hand, receiver_plan(hand, len(stream.open_shards)), hand_backends.connection, jar.path, 0,
        launcher.control_root(hand_backends.store.root), hand_backends.store.root,
        runtime=runtime_with(hand, spark_of(hand)),
    )  # fmt: skip
    files_dir = Path(request.files_dir)
    files_dir.mkdir(parents=True, exist_ok=True)
    for name, content in request.files.items():
        (files_dir / name).write_text(content)
    write_code_archive(request.processor, Path(str(request.code_archive)))
    env = {**os.environ, **request.env, "HADOOP_CONF_DIR": str(cluster.conf_dir)}
    t0 = time.monotonic()
    said = subprocess.run(request.argv, env=env, capture_output=True, text=True, check=True)
    application = [w for w in (said.stdout + said.stderr).split() if w.startswith("application_")][-1]
    hand_seconds = first_batch(f"{rm}/proxy/{application}") - t0
    requests.put(f"{rm}/ws/v1/cluster/apps/{application}/state", json={"state": "KILLED"}, timeout=10)

    packaged = spec_for("packaged", cluster)
    backends = operations.backends_for(packaged)
    t0 = time.monotonic()
    deployment = operations.deploy(packaged, backends)
    record = deployment.job.record
    assert record is not None, deployment.job
    package_seconds = first_batch(record.ui_url) - t0
    print(f"hand-typed spark-submit {hand_seconds:.1f} s to first batch (YARN cluster mode)")
    print(f"kinesis-pipelines deploy {package_seconds:.1f} s to first batch")
    print(f"ratio package/hand      {package_seconds / hand_seconds:.2f}")

    yarn = backends.launcher
    assert isinstance(yarn, YarnLauncher)
    sink = packaged.job.sink.path
    files = yarn.files(sink)
    ids = unique_ids("bench-yarn", 6_000)
    sent = [0]
    producer = threading.Thread(
        target=put_all,
        args=(backends.stream.client, packaged.stream.name, ids),
        kwargs={"rate_per_second": 100, "progress": lambda count: sent.__setitem__(0, count)},
    )
    producer.start()
    while not set(read_output(sink, files)) & set(ids):
        time.sleep(1)
    containers = application_pids(record.driver_id)
    cluster_jvm = [cluster.process.pid] if cluster.process else []
    print(f"memory                  minicluster JVM {rss_mib(cluster_jvm):.0f} MiB, application "
          f"containers {rss_mib(containers):.0f} MiB ({len(containers)} processes)")  # fmt: skip
    container = yarn.attempts(record)[-1]["containerId"]
    killed_at = time.monotonic()
    kill_container(container)
    after_kill = set(ids[sent[0] :])  # produced after the kill: only a recovered driver reads them
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if after_kill & set(read_output(sink, files)):
            seconds = time.monotonic() - killed_at
            print(f"AM kill to first new record {seconds:.1f} s (YARN attempt {yarn.status(record).attempt})")
            break
        time.sleep(0.5)
    else:
        print("no new record within 300 s of the AM kill")
    producer.join()
    operations.stop(packaged, backends, by="bench")


if __name__ == "__main__":
    main()
