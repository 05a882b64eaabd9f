"""Where a streaming driver runs. Every backend offers the same steps: submit, status, what the
driver reported, stop gracefully, kill, logs. A backend keeps its own protocol (process groups,
files, REST calls) to itself; callers see only `DriverRecord` and `DriverStatus`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.app.control import DriverInfo
from kinesis_pipelines.processes import ProcessIdentity


class DriverState(str, Enum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"  # exited 0: stopped on purpose
    FAILED = "FAILED"  # exited non-zero or vanished
    UNKNOWN = "UNKNOWN"


class SubmitRequest(BaseModel):
    """A fully planned submission: the argv, env and the files the driver reads are final;
    nothing is decided later."""

    model_config = ConfigDict(frozen=True)

    pipeline: str
    generation: str
    argv: list[str]
    env: dict[str, str]
    control_dir: str  # the driver's: info file out, stop marker in (app/control.py)
    files_dir: str  # on this host: where `files` are placed before the submit
    files: dict[str, str]  # name -> content: the job file and what else the driver reads
    code_archive: str | None = None  # where to write the code zip that --py-files ships
    processor: str = ""
    ui_port: int
    ui_host: str = "127.0.0.1"  # where this host reaches the driver's UI (its bind address)
    receivers: int
    cores: int
    checkpoint_dir: str
    max_attempts: int = 1  # how often the backend itself starts a driver that died


class DriverRecord(BaseModel):
    """What a backend remembers about a driver it started: enough for any later process (a
    sensor, the CLI) to find it again."""

    model_config = ConfigDict(frozen=True)

    backend: str
    driver_id: str
    pipeline: str
    generation: str
    control_dir: str
    log_location: str
    ui_url: str
    submitted_at: float
    receivers: int = 0
    cores: int = 0
    checkpoint_dir: str = ""
    pid: int | None = None  # the process group leader, for backends that run it on this host
    # who that process is beyond its id, which the kernel reuses: the host it runs on, that
    # host's boot and the process's start time (ticks after boot). Empty in older records.
    host: str = ""
    boot_id: str = ""
    start_ticks: int | None = None
    # how every attempt of this driver names itself on the fence, so that any host can break a
    # dead attempt's fence even when the driver's own report is lost
    fence_owner_prefix: str = ""

    def process_identity(self) -> ProcessIdentity:
        """The recorded process's identity; an older record's host is read from its fence owner
        prefix (`<host>:<pid>:...`), so that it is never signalled from another host."""
        host = self.host
        if not host and self.pid is not None and self.fence_owner_prefix.count(":") >= 3:
            host = self.fence_owner_prefix.split(":", 1)[0]
        return ProcessIdentity(host=host, boot_id=self.boot_id, start_ticks=self.start_ticks)


class DriverStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: DriverState
    exit_code: int | None = None
    detail: str = ""
    attempt: int = 1  # the backend's own relaunches of a driver that died count up from 1
    relaunched_at: list[float] = []  # when each attempt after the first started


class Launcher(Protocol):
    name: str

    def control_root(self, local_root: Path) -> str:
        """Where the drivers' control directories live: `local_root` when the driver runs on
        this host, the job's file system when it runs on a cluster."""
        ...

    def check_ready(self) -> None:
        """Fail with a clear error, before anything is created or submitted, when the backend
        cannot take a job (no cluster configuration, an unreachable cluster)."""
        ...

    def submit(self, request: SubmitRequest) -> DriverRecord:
        """Start the driver; returns at once (waiting for it to come up is the caller's)."""
        ...

    def status(self, record: DriverRecord) -> DriverStatus: ...

    def driver_info(self, record: DriverRecord) -> DriverInfo | None:
        """What the driver reported once its streaming context ran; None before that."""
        ...

    def stop_gracefully(
        self, record: DriverRecord, timeout: float, working: WorkCount | None = None
    ) -> DriverStatus:
        """Ask for a last batch and a clean exit; kill if it has not exited within `timeout`,
        counted from the last time `working` went up when it is given (see QuietDeadline)."""
        ...

    def kill(self, record: DriverRecord) -> DriverStatus: ...

    def logs(self, record: DriverRecord, max_bytes: int = 2_000_000) -> str:
        """The end of the driver's log ("" when there is none)."""
        ...


WorkCount = Callable[[], int | None]
"""A count of the work a driver has done (Spark tasks finished), None when it cannot be read."""


class QuietDeadline:
    """A deadline `timeout` seconds away that moves on whenever `working` (read every
    `check_seconds`) counts more work: a driver working through a long backlog is never cut off,
    one that does nothing for `timeout` is. Without `working`, a plain deadline."""

    def __init__(self, timeout: float, working: WorkCount | None = None, check_seconds: float = 5.0) -> None:
        self.timeout, self.working, self.check_seconds = timeout, working, check_seconds
        self.deadline = time.monotonic() + timeout
        self.checked = time.monotonic()
        self.count: int | None = None

    def passed(self) -> bool:
        now = time.monotonic()
        if self.working is not None and now - self.checked >= self.check_seconds:
            self.checked = now
            count = self.working()
            if count is not None and self.count is not None and count > self.count:
                self.deadline = now + self.timeout
            if count is not None:
                self.count = count
        return now >= self.deadline


ORCHESTRATOR_ONLY_PREFIXES = ("DAGSTER_",)
"""Variables of the orchestrator's own that a driver never gets: Dagster's settings, among them
the instance's database password (DAGSTER_PG_PASSWORD in deploy/secrets.env)."""


def submit_environment(inherited: Mapping[str, str], request_env: Mapping[str, str]) -> dict[str, str]:
    """The environment spark-submit runs with: the orchestrator's (PATH, JAVA_HOME, the AWS
    credential chain's variables...) less what is the orchestrator's own, plus the request's."""
    kept = {key: value for key, value in inherited.items() if not key.startswith(ORCHESTRATOR_ONLY_PREFIXES)}
    return {**kept, **request_env}
