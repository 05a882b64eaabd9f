"""Reading a running driver's monitoring API (Spark's REST API on the driver's UI port), and how
far behind its shards are (the lease table's checkpoints against the stream's tips)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple

import requests
from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.aws.dynamodb import AppTable
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch import DriverRecord, Launcher
from kinesis_pipelines.state import SupervisorMemory


def driver_api(launcher: Launcher, record: DriverRecord, path: str, timeout: float = 3.0) -> Any:
    """GET `path` under the driver's application, or None while it has nothing to give."""
    info = launcher.driver_info(record)
    if info is None:
        return None
    url = f"{record.ui_url}/api/v1/applications/{info.application_id}/{path}"
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    return response.json() if response.ok else None


def streaming_statistics(launcher: Launcher, record: DriverRecord) -> dict[str, Any] | None:
    return driver_api(launcher, record, "streaming/statistics")


class TaskCounts(NamedTuple):
    completed: int  # tasks the driver's executors finished so far
    active: int  # tasks running now, the receivers' long-lived ones included


def executor_tasks(launcher: Launcher, record: DriverRecord) -> TaskCounts | None:
    """The tasks of the driver's executors, from Spark's core API (up before the streaming one),
    or None while it does not answer."""
    executors = driver_api(launcher, record, "allexecutors")
    if executors is None:
        return None
    return TaskCounts(
        completed=sum(int(executor.get("completedTasks", 0)) for executor in executors),
        active=sum(
            int(executor.get("activeTasks", 0)) for executor in executors if executor.get("isActive", True)
        ),
    )


def completed_batches(launcher: Launcher, record: DriverRecord) -> list[dict[str, Any]]:
    return driver_api(launcher, record, "streaming/batches?status=COMPLETED") or []


def receivers(launcher: Launcher, record: DriverRecord) -> list[dict[str, Any]]:
    return driver_api(launcher, record, "streaming/receivers") or []


def newest_batch(batches: list[dict[str, Any]]) -> tuple[float, int] | None:
    """(batch time, input records) of the newest batch the monitoring API listed (it lists the
    newest first), or None."""
    inputs = batch_inputs(batches[:1])
    return inputs[0] if inputs else None


def batch_inputs(batches: list[dict[str, Any]]) -> list[tuple[float, int]]:
    """(batch time in epoch seconds, input records) of each batch the monitoring API listed."""
    pairs = []
    for batch in batches:
        try:
            moment = datetime.strptime(str(batch["batchTime"]), "%Y-%m-%dT%H:%M:%S.%f%Z")
            pairs.append((moment.replace(tzinfo=timezone.utc).timestamp(), int(batch.get("inputSize", 0))))
        except (KeyError, TypeError, ValueError):
            continue
    return pairs


class LagReading(BaseModel):
    """Each open shard's lag that could be measured, and why the rest could not (None: all were)."""

    model_config = ConfigDict(frozen=True)

    per_shard: dict[str, int] = {}
    unmeasured: str | None = None

    def to_memory(self) -> dict[str, object]:
        """The supervisor's memory fields that keep this reading."""
        return {"lag_ms_per_shard": dict(self.per_shard), "lag_unknown": self.unmeasured}

    @classmethod
    def from_memory(cls, memory: SupervisorMemory) -> LagReading:
        return cls(per_shard=dict(memory.lag_ms_per_shard), unmeasured=memory.lag_unknown)


def measure_lag(app_table: AppTable, stream: KinesisStream) -> LagReading:
    """Milliseconds each open shard's checkpoint is behind its newest record. A lease table or a
    shard that cannot be read makes the reading's `unmeasured` say why: never a lag of 0."""
    try:
        leases = app_table.leases()
    except KinesisPipelinesError as exc:
        return LagReading(unmeasured=f"reading the lease table failed: {exc}")
    lag: dict[str, int] = {}
    failed: list[str] = []
    for lease in leases:
        if lease.checkpoint == "SHARD_END":
            continue  # a closed parent shard, read to its end: nothing behind
        try:
            behind = stream.millis_behind(lease.shard_id, lease.checkpoint)
        except KinesisPipelinesError as exc:
            failed.append(str(exc))
            continue
        if behind is None:
            failed.append(f"Kinesis gave no MillisBehindLatest for {lease.shard_id}")
        else:
            lag[lease.shard_id] = behind
    more = f" (and {len(failed) - 1} more shard(s))" if len(failed) > 1 else ""
    return LagReading(per_shard=lag, unmeasured=f"{failed[0]}{more}" if failed else None)
