"""One orchestrator process of the race test (test_two_orchestrators): its own state home, the
real operations, lock, control table and fence against the shared embedded AWS, and a launcher
that starts fake_driver.py instead of Spark. Reads one JSON command a line on stdin, answers one
JSON line on stdout.

    {"op": "deploy", "batch_interval": 2, "delay": 0.1}
    {"op": "stop"} | {"op": "restart", "by": "supervisor"|"operator"}
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from kinesis_pipelines import operations
from kinesis_pipelines.app import control
from kinesis_pipelines.app.control import DriverInfo
from kinesis_pipelines.assembly.build import build_assembly
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch.base import DriverRecord, DriverState, DriverStatus, SubmitRequest
from kinesis_pipelines.processes import alive, start_group, stop_group
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines_tests.operations import fake_driver

TOKEN_ENV = "KP_RACE_TOKEN"  # in every fake driver's environment: the test counts them by it


class FakeDriverLauncher:
    """The Launcher protocol over fake_driver.py processes (each leads its own process group)."""

    name = "fake"

    def __init__(self, table: str, application: str) -> None:
        self.table, self.application = table, application

    def control_root(self, local_root: Path) -> str:
        return str(local_root)

    def check_ready(self) -> None:
        pass

    def submit(self, request: SubmitRequest) -> DriverRecord:
        control_dir = Path(request.control_dir)
        control_dir.mkdir(parents=True, exist_ok=True)
        for stale in (control.STOP_MARKER, control.INFO_FILE, fake_driver.EXIT_FILE):
            (control_dir / stale).unlink(missing_ok=True)
        argv = [sys.executable, "-m", "kinesis_pipelines_tests.operations.fake_driver", str(control_dir),
                self.table, self.application, request.generation]  # fmt: skip
        log = control_dir / "driver.log"
        process = start_group(argv, log, env={**os.environ, **request.env})
        return DriverRecord(
            backend=self.name, driver_id=f"fake-{process.pid}", pid=process.pid, pipeline=request.pipeline,
            generation=request.generation, control_dir=str(control_dir), log_location=str(log),
            ui_url="http://127.0.0.1:9", submitted_at=time.time(), checkpoint_dir=request.checkpoint_dir,
        )  # fmt: skip

    def status(self, record: DriverRecord) -> DriverStatus:
        if alive(record.pid or 0):
            return DriverStatus(state=DriverState.RUNNING)
        try:
            code: int | None = int((Path(record.control_dir) / fake_driver.EXIT_FILE).read_text())
        except (OSError, ValueError):
            code = None
        return DriverStatus(state=DriverState.FINISHED if code == 0 else DriverState.FAILED, exit_code=code)

    def driver_info(self, record: DriverRecord) -> DriverInfo | None:
        try:
            return DriverInfo.model_validate_json((Path(record.control_dir) / control.INFO_FILE).read_text())
        except (OSError, ValueError):
            return None

    def stop_gracefully(self, record: DriverRecord, timeout: float, working: object = None) -> DriverStatus:
        if alive(record.pid or 0):
            (Path(record.control_dir) / control.STOP_MARKER).touch()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and alive(record.pid or 0):
                time.sleep(0.05)
        stop_group(record.pid or 0, grace_seconds=1)
        return self.status(record)

    def kill(self, record: DriverRecord) -> DriverStatus:
        stop_group(record.pid or 0, grace_seconds=0)
        return self.status(record)

    def logs(self, record: DriverRecord, max_bytes: int = 2_000_000) -> str:
        try:
            return Path(record.log_location).read_text()[-max_bytes:]
        except OSError:
            return ""


def run(spec_json: str) -> None:
    base = PipelineSpec.model_validate_json(spec_json)
    jar = build_assembly()
    launcher = FakeDriverLauncher(base.supervision.fence_table, base.app_table.application_name)

    def backends(spec: PipelineSpec) -> operations.Backends:
        return operations.Backends(spec, launcher=launcher, stop_timeout_seconds=15, start_timeout_seconds=60)

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        time.sleep(command.get("delay", 0.0))
        spec = base.model_copy(
            update={
                "job": base.job.model_copy(
                    update={"batch_interval_seconds": command.get("batch_interval", 2)}
                )
            }
        )
        answer: dict[str, object] = {"op": command["op"]}
        try:
            if command["op"] == "deploy":
                result = operations.deploy_job(spec, backends(spec), assembly=jar)
                answer.update(action=result.action, reason=result.reason, drained=result.drained)
            elif command["op"] == "restart":
                by = command.get("by", "supervisor")
                current = backends(spec).store.driver()
                result = operations.restart(
                    spec, backends(spec), requested_by=by, requested_at=time.time(),
                    expected_driver_id=current.driver_id if current and by == "supervisor" else None,
                )  # fmt: skip
                answer.update(action=result.action, reason=result.reason)
            elif command["op"] == "stop":
                status = operations.stop(spec, backends(spec), by="race")
                answer.update(action="stopped", state=status.state.value if status else None)
        except KinesisPipelinesError as exc:
            answer.update(error=f"{type(exc).__name__}: {exc}")
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    run(sys.argv[1])
