"""The local backend: spark-submit as a child process group on this machine. In local mode the
whole job runs in that driver; with a spark:// master the driver runs here in client mode.

Its protocol with the driver is the control directory on the local file system: the job file
goes in before the start, the driver's info file comes out, the stop marker asks for a graceful
stop, and the attempts runner around spark-submit (attempts.py) relaunches a driver that died and
leaves the record of its attempts and the final exit code beside them.

The driver's output goes to `driver.log` in the control directory through a rotator process
(logfiles.py) that keeps it within the spec's `driver_log` size and count; `logs` reads its end
across the rotated files."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from kinesis_pipelines.app import control
from kinesis_pipelines.app.control import DriverInfo
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch.attempts import fence_owner_prefix, read_attempts
from kinesis_pipelines.launch.base import (
    DriverRecord,
    DriverState,
    DriverStatus,
    QuietDeadline,
    SubmitRequest,
    WorkCount,
    submit_environment,
)
from kinesis_pipelines.launch.submit import write_submit_files
from kinesis_pipelines.logfiles import LogFile
from kinesis_pipelines.processes import (
    LogRotation,
    ProcessIdentity,
    Sameness,
    alive,
    identify,
    sameness,
    start_group,
    stop_group,
    this_host,
)
from kinesis_pipelines.spec import DriverLogSpec
from kinesis_pipelines.tools import python_executable

EXIT_FILE = "exit-code"
LOG_FILE = "driver.log"


class LocalProcessLauncher:
    name = "local-process"

    def __init__(self, driver_log: DriverLogSpec | None = None):
        log = driver_log or DriverLogSpec()
        self.log_rotation = LogRotation(max_bytes=log.max_mb * 1024 * 1024, backups=log.backups)

    def control_root(self, local_root: Path) -> str:
        return str(local_root)

    def check_ready(self) -> None:
        """Nothing to check: spark-submit is found when the request is built."""

    def submit(self, request: SubmitRequest) -> DriverRecord:
        control_dir = Path(request.control_dir)
        control_dir.mkdir(parents=True, exist_ok=True)
        for stale in (control.STOP_MARKER, control.INFO_FILE, control.ATTEMPTS_FILE, EXIT_FILE):
            (control_dir / stale).unlink(missing_ok=True)
        write_submit_files(request)
        exit_file = control_dir / EXIT_FILE
        # The attempts runner leads the group: it relaunches a driver that died (up to
        # max_attempts) and records the last exit status, so any later process (a sensor, the
        # CLI) can read it, not only the one that started the driver.
        wrapped = [
            python_executable(),
            "-m",
            "kinesis_pipelines.launch.attempts_main",
            "--control-dir",
            str(control_dir),
            "--max-attempts",
            str(request.max_attempts),
            "--exit-file",
            str(exit_file),
            "--",
            *request.argv,
        ]
        env = submit_environment(os.environ, request.env)
        log = control_dir / LOG_FILE
        try:
            process = start_group(wrapped, log, env=env, rotation=self.log_rotation)
        except OSError as exc:
            raise LaunchError(f"could not start spark-submit for {request.pipeline}: {exc}") from exc
        identity = identify(process.pid)  # the child exists from the fork on: its start is fixed
        return DriverRecord(
            backend=self.name,
            driver_id=f"local-{process.pid}",
            pid=process.pid,
            host=identity.host,
            boot_id=identity.boot_id,
            start_ticks=identity.start_ticks,
            pipeline=request.pipeline,
            generation=request.generation,
            control_dir=str(control_dir),
            log_location=str(log),
            ui_url=f"http://{request.ui_host}:{request.ui_port}",
            submitted_at=time.time(),
            receivers=request.receivers,
            cores=request.cores,
            checkpoint_dir=request.checkpoint_dir,
            fence_owner_prefix=fence_owner_prefix(socket.gethostname(), process.pid, request.generation),
        )

    def status(self, record: DriverRecord) -> DriverStatus:
        pid, recorded = _pid(record), record.process_identity()
        found = sameness(pid, recorded)
        attempts = read_attempts(Path(record.control_dir))
        tried = {
            "attempt": len(attempts.attempts) if attempts else 1,
            "relaunched_at": [a.started_at for a in attempts.attempts[1:]] if attempts else [],
        }
        if found is Sameness.OTHER_HOST:
            return DriverStatus(state=DriverState.UNKNOWN, detail=_elsewhere(record, recorded), **tried)
        if found is Sameness.SAME and alive(pid):
            return DriverStatus(state=DriverState.RUNNING, **tried)
        if found is Sameness.GONE:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
        code = _read_exit_code(Path(record.control_dir) / EXIT_FILE)
        if code == 0:
            return DriverStatus(state=DriverState.FINISHED, exit_code=code, **tried)
        gone = _gone(pid, found)
        return DriverStatus(
            state=DriverState.FAILED,
            exit_code=code,
            detail=f"{gone}see the driver log {record.log_location}",
            **tried,
        )

    def driver_info(self, record: DriverRecord) -> DriverInfo | None:
        try:
            return DriverInfo.model_validate_json((Path(record.control_dir) / control.INFO_FILE).read_text())
        except (OSError, ValueError):
            return None

    def stop_gracefully(
        self, record: DriverRecord, timeout: float = 60.0, working: WorkCount | None = None
    ) -> DriverStatus:
        pid, recorded = _pid(record), record.process_identity()
        found = sameness(pid, recorded)
        if found is Sameness.SAME and alive(pid):
            (Path(record.control_dir) / control.STOP_MARKER).touch()
            deadline = QuietDeadline(timeout, working)
            while not deadline.passed() and alive(pid, recorded):
                time.sleep(0.2)
            if alive(pid, recorded):
                stop_group(pid, grace_seconds=10, recorded=recorded)
        elif found is Sameness.GONE:
            stop_group(pid, grace_seconds=1, recorded=recorded)  # leftovers of the group, if any
        # otherwise the id is another process's, or on another host: nothing is signalled
        return self.status(record)

    def kill(self, record: DriverRecord) -> DriverStatus:
        stop_group(_pid(record), grace_seconds=0, recorded=record.process_identity())
        return self.status(record)

    def logs(self, record: DriverRecord, max_bytes: int = 2_000_000) -> str:
        """The end of the driver's log, across its rotated files."""
        log = self.log_file(record)
        try:
            return log.tail(max_bytes)
        finally:
            log.close()

    def log_file(self, record: DriverRecord) -> LogFile:
        """The driver's log file on this host, to follow by offset across rotations."""
        return LogFile(Path(record.log_location))


def _pid(record: DriverRecord) -> int:
    if record.pid is None:
        raise LaunchError(f"driver {record.driver_id} of {record.pipeline} has no process id")
    return record.pid


def _elsewhere(record: DriverRecord, recorded: ProcessIdentity) -> str:
    return (
        f"the driver runs on host {recorded.host} (process {record.pid}); this host "
        f"({this_host()}) cannot see it: look, stop or kill from {recorded.host}"
    )


def _gone(pid: int, found: Sameness) -> str:
    """Why the recorded driver counts as gone although its process id may be taken."""
    if found is Sameness.REUSED:
        return f"the driver is gone: process id {pid} now belongs to another process, left alone; "
    if found is Sameness.REBOOTED:
        return f"the driver is gone: this host rebooted since it started (process id {pid} is not it); "
    return ""


def _read_exit_code(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None  # killed before it could say: the driver vanished
