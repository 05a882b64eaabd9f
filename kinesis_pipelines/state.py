"""What the package remembers about each pipeline, in one place: where its files live, the
current driver, the operator's intent (run or stay stopped), the restarts that happened, the
reshard ledger and the supervisor's last look. Every write is atomic (write, then rename).

Today this lives under the state home on the orchestrator's file system; keeping it behind
`PipelineStore` is what lets it move (to AWS, say) without touching the operations."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.files import write_text_atomically
from kinesis_pipelines.home import pipeline_dir, resolve_path
from kinesis_pipelines.launch.base import DriverRecord

Model = TypeVar("Model", bound=BaseModel)

__all__ = ["PipelineStore", "pipeline_dir", "resolve_path"]


class Intent(BaseModel):
    """What the operator last asked for. A stop is recorded before the driver is asked to stop,
    and every automatic action (the health sensor, a restart run, a rebalance roll) honours it."""

    model_config = ConfigDict(frozen=True)

    desired: Literal["running", "stopped"]
    at: float
    by: str = ""


class RestartHistory(BaseModel):
    """Times of restarts the supervisor asked for that actually replaced a driver."""

    times: list[float] = []


class ReshardHistory(BaseModel):
    calls: list[float] = []
    last_change_at: float | None = None


class SupervisorMemory(BaseModel):
    """The health sensor's memory between looks."""

    driver_id: str | None = None
    previous_batches: int = 0
    progress_at: float | None = None
    healthy_since: float | None = None
    health: str = "not_deployed"
    reason: str = ""
    failure: str | None = None
    gave_up: str | None = None
    lag_ms_per_shard: dict[str, int] = {}
    observed_at: float | None = None
    restart_requested_for: str | None = None
    restart_requested_at: float | None = None
    reading_at: float | None = None  # the current driver's first batch of new records


class PipelineStore:
    """One pipeline's remembered state."""

    def __init__(self, pipeline: str, root: Path | None = None) -> None:
        self.pipeline = pipeline
        self.root = root or pipeline_dir(pipeline)

    def generation_dir(self, generation: str) -> Path:
        return self.root / "generations" / generation

    def driver(self) -> DriverRecord | None:
        return self._load("driver.json", DriverRecord)

    def save_driver(self, record: DriverRecord) -> None:
        self._save("driver.json", record)

    def intent(self) -> Intent | None:
        return self._load("intent.json", Intent)

    def save_intent(
        self, desired: Literal["running", "stopped"], by: str, now: float | None = None
    ) -> Intent:
        intent = Intent(desired=desired, at=time.time() if now is None else now, by=by)
        self._save("intent.json", intent)
        return intent

    def stop_requested(self) -> bool:
        intent = self.intent()
        return intent is not None and intent.desired == "stopped"

    def restarts(self) -> RestartHistory:
        return self._load("restarts.json", RestartHistory) or RestartHistory()

    def record_restart(self, at: float) -> None:
        history = self.restarts()
        self._save("restarts.json", RestartHistory(times=[*history.times, at]))

    def reshards(self) -> ReshardHistory:
        return self._load("reshards.json", ReshardHistory) or ReshardHistory()

    def save_reshards(self, history: ReshardHistory) -> None:
        self._save("reshards.json", history)

    def supervisor(self) -> SupervisorMemory:
        return self._load("supervisor.json", SupervisorMemory) or SupervisorMemory()

    def save_supervisor(self, memory: SupervisorMemory) -> None:
        self._save("supervisor.json", memory)

    @contextmanager
    def operation_lock(self) -> Iterator[None]:
        """One deploy, restart or stop of this pipeline at a time on this host."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".operation.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _load(self, name: str, model: type[Model]) -> Model | None:
        path = self.root / name
        try:
            return model.model_validate_json(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # a file from an older version: start afresh rather than fail every look

    def _save(self, name: str, value: BaseModel) -> None:
        write_text_atomically(self.root / name, value.model_dump_json(indent=2))
