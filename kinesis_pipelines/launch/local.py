"""The local backend: spark-submit as a child process group on this machine. In local mode the
whole job runs in that driver; with a spark:// master the driver runs here in client mode."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch.base import (
    DriverRecord,
    DriverState,
    DriverStatus,
    SubmitRequest,
)
from kinesis_pipelines.processes import alive, start_group, stop_group


class LocalProcessLauncher:
    name = "local-process"

    def submit(self, request: SubmitRequest) -> DriverRecord:
        Path(request.stop_marker).unlink(missing_ok=True)
        Path(request.info_file).unlink(missing_ok=True)
        exit_file = _exit_file(request.info_file)
        exit_file.unlink(missing_ok=True)
        # A shell leads the group and records the driver's exit status, so any later process
        # (a sensor, the CLI) can read it, not only the one that started the driver.
        wrapped = ["/bin/sh", "-c", '"$@"; echo $? > "$KP_EXIT_FILE"', "kp-driver", *request.argv]
        env = {**os.environ, **request.env, "KP_EXIT_FILE": str(exit_file)}
        try:
            process = start_group(wrapped, Path(request.log_path), env=env)
        except OSError as exc:
            raise LaunchError(f"could not start spark-submit for {request.pipeline}: {exc}") from exc
        return DriverRecord(
            backend=self.name,
            driver_id=f"local-{process.pid}",
            pid=process.pid,
            pipeline=request.pipeline,
            generation=request.generation,
            stop_marker=request.stop_marker,
            info_file=request.info_file,
            log_path=request.log_path,
            ui_url=f"http://127.0.0.1:{request.ui_port}",
            submitted_at=time.time(),
        )

    def status(self, record: DriverRecord) -> DriverStatus:
        assert record.pid is not None
        if alive(record.pid):
            return DriverStatus(state=DriverState.RUNNING)
        _reap(record.pid)
        code = _read_exit_code(_exit_file(record.info_file))
        if code == 0:
            return DriverStatus(state=DriverState.FINISHED, exit_code=code)
        return DriverStatus(
            state=DriverState.FAILED, exit_code=code, detail=f"see the driver log {record.log_path}"
        )

    def stop_gracefully(self, record: DriverRecord, timeout: float = 60.0) -> DriverStatus:
        assert record.pid is not None
        if alive(record.pid):
            Path(record.stop_marker).parent.mkdir(parents=True, exist_ok=True)
            Path(record.stop_marker).touch()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and alive(record.pid):
                time.sleep(0.2)
            if alive(record.pid):
                stop_group(record.pid, grace_seconds=10)
        else:
            stop_group(record.pid, grace_seconds=1)  # leftovers of the group, if any
        return self.status(record)

    def kill(self, record: DriverRecord) -> DriverStatus:
        assert record.pid is not None
        stop_group(record.pid, grace_seconds=0)
        return self.status(record)


def _exit_file(info_file: str) -> Path:
    return Path(info_file).with_name("exit-code")


def _read_exit_code(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None  # killed before it could say: the driver vanished


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
