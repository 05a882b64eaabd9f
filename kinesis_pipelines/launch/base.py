"""Where a streaming driver runs. Every backend offers the same four steps:
submit, status, stop gracefully, kill."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class DriverState(str, Enum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"  # exited 0: stopped on purpose
    FAILED = "FAILED"  # exited non-zero or vanished
    UNKNOWN = "UNKNOWN"


class SubmitRequest(BaseModel):
    """A fully planned submission: the argv and env are final, nothing is decided later."""

    model_config = ConfigDict(frozen=True)

    pipeline: str
    argv: list[str]
    env: dict[str, str]
    log_path: str
    generation: str
    stop_marker: str
    info_file: str
    ui_port: int


class DriverRecord(BaseModel):
    """What a backend remembers about a driver it started."""

    model_config = ConfigDict(frozen=True)

    backend: str
    driver_id: str
    pid: int | None = None
    pipeline: str
    generation: str
    stop_marker: str
    info_file: str
    log_path: str
    ui_url: str
    submitted_at: float
    receivers: int = 0
    cores: int = 0
    checkpoint_dir: str = ""


class DriverStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: DriverState
    exit_code: int | None = None
    detail: str = ""


class Launcher(Protocol):
    name: str

    def submit(self, request: SubmitRequest) -> DriverRecord: ...

    def status(self, record: DriverRecord) -> DriverStatus: ...

    def stop_gracefully(self, record: DriverRecord, timeout: float) -> DriverStatus: ...

    def kill(self, record: DriverRecord) -> DriverStatus: ...
