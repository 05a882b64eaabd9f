"""The YARN backend: spark-submit in cluster deploy mode, so the driver runs in YARN's
ApplicationMaster on the cluster and outlives the Dagster host.

The driver's handle is its YARN application id. State, attempts, final status, the tracking URL
(the ResourceManager's proxy to the Spark UI) and the ApplicationMaster's logs come from the
ResourceManager's and NodeManagers' REST APIs; a kill goes through the ResourceManager. The driver's
control directory lives on the job's file system (HDFS): the orchestrator writes the stop marker
there and reads the info file the driver writes, whichever attempt and node it runs on.

YARN restarts a dead ApplicationMaster itself (`spark.yarn.maxAppAttempts`, from the restart
policy); each new attempt recovers from the checkpoint and takes the fence over from the dead one.
The supervisor resubmits once those attempts are spent, and counts them in its budget."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import requests

from kinesis_pipelines.app import control
from kinesis_pipelines.app.control import DriverInfo
from kinesis_pipelines.app.storage import JobFiles, join
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.base import (
    DriverRecord,
    DriverState,
    DriverStatus,
    QuietDeadline,
    SubmitRequest,
    WorkCount,
    submit_environment,
)
from kinesis_pipelines.launch.hadoop import HadoopConf, hadoop_conf_dir, load_hadoop_conf
from kinesis_pipelines.launch.job_files import job_files
from kinesis_pipelines.launch.submit import write_submit_files
from kinesis_pipelines.spec import PipelineSpec

SUBMIT_LOG = "spark-submit.log"
APPLICATION_ID = re.compile(r"\bapplication_\d+_\d+\b")
RUNNING_STATES = {"NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING"}
REST_TIMEOUT_SECONDS = 10.0
SUBMIT_TIMEOUT_SECONDS = 600.0


class YarnLauncher:
    name = "yarn"

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec

    @cached_property
    def conf_dir(self) -> Path:
        return hadoop_conf_dir(self.spec)

    @cached_property
    def hadoop(self) -> HadoopConf:
        return load_hadoop_conf(self.conf_dir)

    @property
    def user(self) -> str:
        return os.environ.get("HADOOP_USER_NAME") or getpass.getuser()

    def control_root(self, local_root: Path) -> str:
        """Under the checkpoint root when the orchestrator can reach it (HDFS or a shared
        mount); otherwise (S3) on the cluster's default file system."""
        root = job_path(self.spec.job.checkpoint_dir)
        if not root.startswith(("hdfs://", "file://")):
            root = f"{self.hadoop.default_fs}/user/{self.user}/kinesis-pipelines"
        return join(root, self.spec.name, "control")

    def files(self, path: str) -> JobFiles:
        return job_files(path, self.hadoop, self.user)

    # --- the ResourceManager's REST API -------------------------------------------------
    def _rm(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.hadoop.resource_manager_url}/ws/v1/cluster/{path}"
        try:
            response = requests.request(method, url, timeout=REST_TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as exc:
            raise LaunchError(
                f"the YARN ResourceManager at {self.hadoop.resource_manager_url} is unreachable "
                f"({type(exc).__name__}); check that the cluster runs and that "
                f"yarn.resourcemanager.webapp.address in {self.conf_dir / 'yarn-site.xml'} names it"
            ) from exc
        if response.status_code == 404:
            return None
        if not response.ok:
            raise LaunchError(f"YARN {method} {url} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else {}

    def check_ready(self) -> None:
        """The Hadoop configuration is there and the ResourceManager answers."""
        self._rm("GET", "info")

    def application(self, record: DriverRecord) -> dict[str, Any] | None:
        found = self._rm("GET", f"apps/{record.driver_id}")
        return found.get("app") if found else None

    def attempts(self, record: DriverRecord) -> list[dict[str, Any]]:
        found = self._rm("GET", f"apps/{record.driver_id}/appattempts") or {}
        attempts = (found.get("appAttempts") or {}).get("appAttempt") or []
        return sorted(attempts, key=lambda attempt: int(attempt.get("id", 0)))

    # --- Launcher -------------------------------------------------------------------------
    def submit(self, request: SubmitRequest) -> DriverRecord:
        self.check_ready()
        files_dir = write_submit_files(request)
        files = self.files(request.control_dir)
        for stale in (control.STOP_MARKER, control.INFO_FILE):
            files.remove(join(request.control_dir, stale))
        files.make_dirs(request.control_dir)
        log = files_dir / SUBMIT_LOG
        env = submit_environment(os.environ, {**request.env, "HADOOP_CONF_DIR": str(self.conf_dir)})
        try:
            with open(log, "wb") as output:
                finished = subprocess.run(
                    request.argv, env=env, stdout=output, stderr=subprocess.STDOUT,
                    timeout=SUBMIT_TIMEOUT_SECONDS, start_new_session=True,
                )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LaunchError(f"spark-submit of {request.pipeline} to YARN failed: {exc}; see {log}") from exc
        said = log.read_text(errors="replace")
        found = APPLICATION_ID.findall(said)
        if finished.returncode != 0 or not found:
            tail = "\n".join(said.splitlines()[-30:])
            raise LaunchError(
                f"spark-submit of {request.pipeline} to YARN failed (exit code {finished.returncode}); "
                f"its output ends:\n{tail}"
            )
        application_id = found[-1]
        return DriverRecord(
            backend=self.name,
            driver_id=application_id,
            pipeline=request.pipeline,
            generation=request.generation,
            control_dir=request.control_dir,
            log_location=f"{self.hadoop.resource_manager_url}/cluster/app/{application_id}",
            ui_url=f"{self.hadoop.resource_manager_url}/proxy/{application_id}",
            submitted_at=time.time(),
            receivers=request.receivers,
            cores=request.cores,
            checkpoint_dir=request.checkpoint_dir,
            fence_owner_prefix=f"yarn:{application_id}:",  # app/fencing.fence_identity
        )

    def status(self, record: DriverRecord) -> DriverStatus:
        app = self.application(record)
        if app is None:
            return DriverStatus(state=DriverState.UNKNOWN, detail=f"YARN knows no {record.driver_id}")
        attempts = self.attempts(record)
        tried = {
            "attempt": max(1, len(attempts)),
            "relaunched_at": [int(a["startTime"]) / 1000 for a in attempts[1:] if a.get("startTime")],
        }
        state, final = app.get("state", ""), app.get("finalStatus", "")
        if state in RUNNING_STATES:
            return DriverStatus(state=DriverState.RUNNING, **tried)
        if state == "FINISHED" and final == "SUCCEEDED":
            return DriverStatus(state=DriverState.FINISHED, exit_code=0, **tried)
        diagnostics = " ".join(str(app.get("diagnostics", "")).split())[:500]
        return DriverStatus(
            state=DriverState.FAILED,
            detail=f"YARN: {state}/{final}: {diagnostics} (logs: {record.log_location})",
            **tried,
        )

    def driver_info(self, record: DriverRecord) -> DriverInfo | None:
        path = join(record.control_dir, control.INFO_FILE)
        try:
            text = self.files(path).read_text(path)
            return DriverInfo.model_validate_json(text) if text else None
        except (OSError, ValueError, requests.RequestException):
            return None

    def stop_gracefully(
        self, record: DriverRecord, timeout: float = 60.0, working: WorkCount | None = None
    ) -> DriverStatus:
        status = self.status(record)
        if status.state is DriverState.RUNNING:
            marker = join(record.control_dir, control.STOP_MARKER)
            self.files(marker).write_text(marker, "")
            deadline = QuietDeadline(timeout, working)
            while not deadline.passed():
                status = self.status(record)
                if status.state is not DriverState.RUNNING:
                    return status
                time.sleep(1.0)
            return self.kill(record)
        return status

    def kill(self, record: DriverRecord) -> DriverStatus:
        app = self.application(record)
        if app is not None and app.get("state") in RUNNING_STATES:
            self._rm("PUT", f"apps/{record.driver_id}/state", json={"state": "KILLED"},
                     params={"user.name": self.user})  # fmt: skip
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.status(record).state is DriverState.RUNNING:
                time.sleep(0.5)
        return self.status(record)

    def logs(self, record: DriverRecord, max_bytes: int = 2_000_000) -> str:
        """The ApplicationMaster's (the driver's) stdout and stderr of its latest attempt, from its
        NodeManager while the container's logs are there."""
        try:
            attempts = self.attempts(record)
        except LaunchError:
            return ""
        if not attempts:
            return ""
        latest = attempts[-1]
        node, container = latest.get("nodeHttpAddress"), latest.get("containerId")
        if not node or not container:
            return ""
        parts = []
        for name in ("stdout", "stderr"):
            url = f"http://{node}/ws/v1/node/containerlogs/{container}/{name}"
            try:
                response = requests.get(url, params={"size": -max_bytes // 2}, timeout=REST_TIMEOUT_SECONDS)
            except requests.RequestException:
                continue
            if response.ok:
                parts.append(f"==> {container} {name} <==\n{response.text}")
        return "\n".join(parts)
