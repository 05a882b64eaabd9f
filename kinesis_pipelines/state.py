"""What the package remembers about each pipeline, in one place: where its files live, the
current driver, the operator's intent (run or stay stopped), the restarts that happened, the
reshard ledger and the supervisor's last look.

What must outlive the Dagster host (the driver record, the intent, the restart history and the
reshard ledger) lives in the pipeline's control table in DynamoDB (aws/control.py) when the store
is given one, as every pipeline's `Backends` does; a replacement host finds its pipelines there.
The supervisor's memory between looks, the generations' local files and the operation lock stay
on this host (under the state home); every local write is atomic (write, then rename)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol, TypeVar

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
    """The 10-UpdateShardCount-calls-a-day ledger: calls made (or noticed), the last change, and
    the open shard count the ledger last saw, so that a reshard made elsewhere is counted."""

    calls: list[float] = []
    last_change_at: float | None = None
    shards: int | None = None


class DurableRecords(Protocol):
    """Where the records that must outlive this host are kept (aws/control.py's ControlTable)."""

    def read(self, name: str) -> str | None: ...

    def read_many(self, names: tuple[str, ...]) -> dict[str, str | None]:
        """Several records in one round trip."""
        ...

    def write(self, name: str, document: str) -> None: ...


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
    output_reported_at: float | None = None  # when the output asset was last materialized
    lag_measured_at: float | None = None  # when the stream's tips were last read for lag
    recorded_at: float | None = None  # when an observation was last recorded in Dagster
    recorded_signature: str = ""  # what that observation said, to record again on a change
    output_batch_time: float | None = None  # the newest batch that report covered


class PipelineStore:
    """One pipeline's remembered state."""

    def __init__(
        self,
        pipeline: str,
        root: Path | None = None,
        durable: Callable[[], DurableRecords] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.root = root or pipeline_dir(pipeline)
        self._durable_factory = durable
        self._prefetched: dict[str, str | None] = {}

    @cached_property
    def durable(self) -> DurableRecords | None:
        return self._durable_factory() if self._durable_factory else None

    def check_owner(self) -> None:
        """Fail before anything is created if the durable records belong to another pipeline."""
        durable = self.durable
        if durable is not None:
            durable.read("driver")  # the control table checks its owner on first use

    def generation_dir(self, generation: str) -> Path:
        return self.root / "generations" / generation

    def driver(self) -> DriverRecord | None:
        return self._load_durable("driver", DriverRecord)

    def save_driver(self, record: DriverRecord) -> None:
        self._save_durable("driver", record)

    def intent(self) -> Intent | None:
        return self._load_durable("intent", Intent)

    def save_intent(
        self, desired: Literal["running", "stopped"], by: str, now: float | None = None
    ) -> Intent:
        intent = Intent(desired=desired, at=time.time() if now is None else now, by=by)
        self._save_durable("intent", intent)
        return intent

    def stop_requested(self) -> bool:
        intent = self.intent()
        return intent is not None and intent.desired == "stopped"

    def restarts(self) -> RestartHistory:
        return self._load_durable("restarts", RestartHistory) or RestartHistory()

    def record_restart(self, at: float) -> None:
        history = self.restarts()
        self._save_durable("restarts", RestartHistory(times=[*history.times, at]))

    def reshards(self) -> ReshardHistory:
        return self._load_durable("reshards", ReshardHistory) or ReshardHistory()

    def save_reshards(self, history: ReshardHistory) -> None:
        self._save_durable("reshards", history)

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

    def prefetch(self, *names: str) -> None:
        """Read these durable records in one round trip; the next read of each is served from
        it once (a look reads the driver, the intent and the restarts: one call, not three)."""
        durable = self.durable
        if durable is not None:
            self._prefetched.update(durable.read_many(names))

    def _load_durable(self, name: str, model: type[Model]) -> Model | None:
        durable = self.durable
        if durable is None:
            return self._load(f"{name}.json", model)
        document = self._prefetched.pop(name) if name in self._prefetched else durable.read(name)
        try:
            return model.model_validate_json(document) if document else None
        except ValueError:
            return None  # written by an older version: start afresh rather than fail every look

    def _save_durable(self, name: str, value: BaseModel) -> None:
        durable = self.durable
        if durable is None:
            self._save(f"{name}.json", value)
        else:
            self._prefetched.pop(name, None)
            durable.write(name, value.model_dump_json())

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
