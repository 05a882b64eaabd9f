"""A Spark standalone cluster on this machine for the tests (master and workers on `host`),
started from the pip pyspark's `spark-class`, which lacks sbin/start-master.sh. A real cluster is only a
`spark://host:port` master in the spec."""

from __future__ import annotations

import os
from pathlib import Path

from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.processes import free_port, start_group, stop_group, wait_for_port
from kinesis_pipelines.tools import spark_class


class StandaloneCluster:
    def __init__(
        self,
        home: Path,
        workers: int = 1,
        cores_per_worker: int = 3,
        memory_per_worker: str = "1g",
        host: str = "127.0.0.1",
    ) -> None:
        self.home = home
        self.host = host
        self.workers = workers
        self.cores_per_worker = cores_per_worker
        self.memory_per_worker = memory_per_worker
        self.pids: list[int] = []
        self.master_url = ""
        self.master_ui = ""

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> StandaloneCluster:
        port, ui_port = free_port(), free_port()
        env = {**os.environ, "SPARK_LOCAL_IP": self.host, "SPARK_MASTER_HOST": self.host}
        logs = self.home / "standalone"
        master = start_group(
            [
                spark_class(),
                "org.apache.spark.deploy.master.Master",
                "--host",
                self.host,
                "--port",
                str(port),
                "--webui-port",
                str(ui_port),
            ],
            logs / "master.log",
            env=env,
        )
        self.pids.append(master.pid)
        if not wait_for_port(port, timeout, master, host=self.host):
            self.stop()
            raise LaunchError(f"the Spark master did not listen on {self.host}:{port}")
        self.master_url = f"spark://{self.host}:{port}"
        self.master_ui = f"http://{self.host}:{ui_port}"
        for index in range(self.workers):
            worker_dir = logs / f"worker-{index}"
            worker_dir.mkdir(parents=True, exist_ok=True)
            worker_port = free_port()
            worker = start_group(
                [
                    spark_class(),
                    "org.apache.spark.deploy.worker.Worker",
                    self.master_url,
                    "--host",
                    self.host,
                    "--port",
                    str(worker_port),
                    "--webui-port",
                    str(free_port()),
                    "--cores",
                    str(self.cores_per_worker),
                    "--memory",
                    self.memory_per_worker,
                    "--work-dir",
                    str(worker_dir),
                ],
                logs / f"worker-{index}.log",
                env=env,
            )
            self.pids.append(worker.pid)
            if not wait_for_port(worker_port, timeout, worker, host=self.host):
                self.stop()
                raise LaunchError(f"Spark worker {index} did not start; see {logs}")
        return self

    def stop(self) -> None:
        for pid in reversed(self.pids):
            stop_group(pid, grace_seconds=5)
        self.pids.clear()
