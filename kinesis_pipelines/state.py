"""What the package remembers about each pipeline, in one place: where its files live, the
current driver, the operator's intent (run or stay stopped), the restarts that happened, the
reshard ledger and the supervisor's last look.

What must outlive the Dagster host (the driver record, the intent, the restart history and the
reshard ledger) lives in the pipeline's control table in DynamoDB (aws/control.py) when the store
is given one, as every pipeline's `Backends` does; a replacement host finds its pipelines there.
The supervisor's memory between looks and the generations' local files stay on this host (under
the state home); every local write is atomic (write, then rename).

Across hosts: durable records carry a version and are written only over the version this store
read (a read-modify-write that lost to another host is done again, or refused); one operation at a
time per pipeline holds the lock in the control table (aws/oplock.py), after this host's own file
lock. An intent record that cannot be read counts as a stop (fail closed), and says so."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from kinesis_pipelines import locking
from kinesis_pipelines.aws import oplock
from kinesis_pipelines.errors import AwsError, ControlRecordConflictError
from kinesis_pipelines.files import write_text_atomically
from kinesis_pipelines.home import pipeline_dir, resolve_path
from kinesis_pipelines.launch.base import DriverRecord, SubmitRequest
from kinesis_pipelines.locking import LOCK_WAIT_SECONDS

Model = TypeVar("Model", bound=BaseModel)

UPDATE_ATTEMPTS = 20  # a read-modify-write that lost to another host is done again, up to this often

__all__ = ["PipelineStore", "pipeline_dir", "resolve_path"]


class Intent(BaseModel):
    """What the operator last asked for. A stop is recorded before the driver is asked to stop,
    and every automatic action (the health sensor, a restart run, a rebalance roll) honours it."""

    model_config = ConfigDict(frozen=True)

    desired: Literal["running", "stopped"]
    at: float
    by: str = ""
    version: int = Field(0, exclude=True)  # the record's version in the control table
    unreadable: str = Field("", exclude=True)  # why the record could not be read (then "stopped")


def unreadable_intent(why: str) -> Intent:
    """Fail closed: an intent that cannot be read stops every automatic action, and says why."""
    return Intent(
        desired="stopped",
        at=0.0,
        by=f"nobody: the intent record could not be read ({why}), so it counts as a stop until "
        "an operator deploys or stops the pipeline again",
        unreadable=why,
    )


class GenerationRecord(BaseModel):
    """The current checkpoint generation: how its driver was submitted (so any host can launch
    it again to drain it) and whether it has drained (its driver exited cleanly after a stop
    marker: every batch it received was processed)."""

    model_config = ConfigDict(frozen=True)

    generation: str
    driver_id: str = ""
    request: SubmitRequest | None = None  # without credentials from this host's environment
    drained: bool = False
    drained_at: float | None = None
    detail: str = ""


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

    def read_versioned(self, name: str) -> tuple[str | None, int]: ...

    def read_many(self, names: tuple[str, ...]) -> dict[str, tuple[str | None, int]]:
        """Several records (document, version) in one round trip."""
        ...

    def write(self, name: str, document: str, expected_version: int | None = None) -> int:
        """Conditional on `expected_version` when given; returns the version written."""
        ...

    def operation_lock(self) -> oplock.OperationLock: ...


class SupervisorMemory(BaseModel):
    """The health sensor's memory between looks."""

    driver_id: str | None = None
    previous_batches: int = 0
    previous_tasks: int = 0  # Spark tasks the driver had finished at the last look
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
    lag_unknown: str | None = None  # why the lag (of some shard) could not be measured then
    dead_lettered: int = 0  # records the job dead-lettered so far (read with the lag)
    dead_letters_waiting: int = 0  # of those, not replayed yet
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
        self._prefetched: dict[str, tuple[str | None, int]] = {}
        self._versions: dict[str, int] = {}  # the version of each record this store last saw
        self._hold: locking.Hold | None = None  # operation_lock's, while held

    @cached_property
    def durable(self) -> DurableRecords | None:
        return self._durable_factory() if self._durable_factory else None

    def check_owner(self) -> None:
        """Fail before anything is created if the durable records belong to another pipeline."""
        durable = self.durable
        if durable is not None:
            durable.read_versioned("driver")  # the control table checks its owner on first use

    def generation_dir(self, generation: str) -> Path:
        return self.root / "generations" / generation

    def driver(self) -> DriverRecord | None:
        return self._load_durable("driver", DriverRecord)

    def save_driver(self, record: DriverRecord) -> None:
        """Only over the driver record this store read: ControlRecordConflictError if another
        operation replaced the driver since."""
        self._save_durable("driver", record)

    def generation(self) -> GenerationRecord | None:
        return self._load_durable("generation", GenerationRecord)

    def save_generation(self, record: GenerationRecord) -> None:
        self._save_durable("generation", record)

    def intent(self) -> Intent | None:
        """The operator's last intent; an unreadable one (an AWS error, a corrupt record) is a
        stop that says why (`Intent.unreadable`), never "no intent"."""
        try:
            document, version = self._read("intent")
        except AwsError as exc:
            return unreadable_intent(f"{type(exc).__name__}: {exc}")
        if not document:
            return None
        try:
            return Intent.model_validate_json(document).model_copy(update={"version": version})
        except ValueError as exc:
            return unreadable_intent(f"not a valid intent: {str(exc).splitlines()[0]}")

    def save_intent(
        self, desired: Literal["running", "stopped"], by: str, now: float | None = None
    ) -> Intent:
        """The operator's word: replaces whatever intent is recorded (last writer wins), and
        returns it with its version, so the operation can tell later whether it still stands."""
        intent = Intent(desired=desired, at=time.time() if now is None else now, by=by)
        version = self._save_durable("intent", intent, replace_any=True)
        return intent.model_copy(update={"version": version})

    def stop_requested(self) -> bool:
        intent = self.intent()
        return intent is not None and intent.desired == "stopped"

    def restarts(self) -> RestartHistory:
        return self._load_durable("restarts", RestartHistory) or RestartHistory()

    def record_restart(self, at: float) -> None:
        """Add a restart; read again and added again if another host wrote the history first."""
        for _ in range(UPDATE_ATTEMPTS):
            history = self.restarts()
            try:
                self._save_durable("restarts", RestartHistory(times=[*history.times, at]))
                return
            except ControlRecordConflictError:
                continue
        raise ControlRecordConflictError(
            f"{self.pipeline}: the restart history kept changing under {UPDATE_ATTEMPTS} attempts to add "
            "a restart; another host is writing it in a loop"
        )

    def reshards(self) -> ReshardHistory:
        return self._load_durable("reshards", ReshardHistory) or ReshardHistory()

    def save_reshards(self, history: ReshardHistory) -> None:
        """Only over the ledger this store read: ControlRecordConflictError if another host
        changed it since (its reshard must be counted: measure and plan again)."""
        self._save_durable("reshards", history)

    def supervisor(self) -> SupervisorMemory:
        return self._load("supervisor.json", SupervisorMemory) or SupervisorMemory()

    def save_supervisor(self, memory: SupervisorMemory) -> None:
        self._save("supervisor.json", memory)

    @contextmanager
    def operation_lock(
        self, operation: str = "operation", wait_seconds: float = LOCK_WAIT_SECONDS
    ) -> Iterator[None]:
        """One deploy, restart, roll or stop of this pipeline at a time, on every host
        (locking.py): OperationLockedError naming the holder if it cannot be had within
        `wait_seconds`. Nested holds in one store take it once."""
        if self._hold is not None:
            yield
            return
        durable = self.durable
        with locking.hold(
            self.pipeline, self.root, durable.operation_lock() if durable else None, operation, wait_seconds
        ) as hold:
            self._hold = hold
            try:
                yield
            finally:
                self._hold = None

    def lock_lost(self) -> bool:
        """True if the lock in the control table was taken from this store's hold (its renewals
        failed for a whole TTL): the operation must not start anything more."""
        return self._hold is not None and self._hold.lost()

    def prefetch(self, *names: str) -> None:
        """Read these durable records in one round trip; the next read of each is served from
        it once (a look reads the driver, the intent and the restarts: one call, not three)."""
        durable = self.durable
        if durable is not None:
            self._prefetched.update(durable.read_many(names))

    def _read(self, name: str) -> tuple[str | None, int]:
        durable = self.durable
        if durable is None:
            try:
                return (self.root / f"{name}.json").read_text(), 0
            except FileNotFoundError:
                return None, 0
        found = self._prefetched.pop(name) if name in self._prefetched else durable.read_versioned(name)
        self._versions[name] = found[1]
        return found

    def _load_durable(self, name: str, model: type[Model]) -> Model | None:
        document, _version = self._read(name)
        try:
            return model.model_validate_json(document) if document else None
        except ValueError:
            return None  # written by an older version: start afresh rather than fail every look

    def _save_durable(self, name: str, value: BaseModel, replace_any: bool = False) -> int:
        """Write over the version this store last saw of the record (if it saw one and not
        `replace_any`), else over whatever is there; returns the version written."""
        durable = self.durable
        if durable is None:
            self._save(f"{name}.json", value)
            return 0
        self._prefetched.pop(name, None)
        expected = None if replace_any else self._versions.get(name)
        try:
            version = durable.write(name, value.model_dump_json(), expected)
        except ControlRecordConflictError:
            self._versions.pop(name, None)
            raise
        self._versions[name] = version
        return version

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
