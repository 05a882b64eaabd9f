"""How many Kinesis receivers (input DStreams) a job starts, and the cores that takes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.errors import PlanError


class ReceiverPlan(BaseModel):
    """The receivers and cores for one deployment of a pipeline."""

    model_config = ConfigDict(frozen=True)

    open_shards: int
    receivers: int
    processing_cores: int
    cores: int
    master: str
    reason: str


def plan_receivers(
    *,
    open_shards: int,
    max_receivers: int,
    executor_cores: int,
    processing_cores: int,
    master: str,
) -> ReceiverPlan:
    """receivers = min(open shards, max receivers, cores left after processing).

    Each receiver holds one core for the life of the job, and a receiver with no shard lease of its
    own does nothing, so there are never more receivers than open shards. In local mode the master
    becomes local[cores] where cores = receivers + processing cores (local[n] needs n > receivers).
    """
    if open_shards < 1:
        raise PlanError(
            f"the stream has {open_shards} open shards: a receiver job needs at least one; "
            "wait for the stream to become ACTIVE or reshard it"
        )
    if max_receivers < 1:
        raise PlanError(f"job.max_receivers is {max_receivers}: set it to 1 or more")
    if processing_cores < 1:
        raise PlanError(f"job.processing_cores is {processing_cores}: set it to 1 or more")
    cores_for_receivers = executor_cores - processing_cores
    if cores_for_receivers < 1:
        raise PlanError(
            f"job.executor_cores ({executor_cores}) leaves no core for a receiver after "
            f"job.processing_cores ({processing_cores}): raise executor_cores to at least "
            f"{processing_cores + 1} or lower processing_cores"
        )
    limits = {
        "open shards": open_shards,
        "max receivers": max_receivers,
        "cores left for receivers": cores_for_receivers,
    }
    receivers = min(limits.values())
    binding = [name for name, value in limits.items() if value == receivers]
    cores = receivers + processing_cores
    effective_master = f"local[{cores}]" if master == "local" else master
    reason = (
        f"{receivers} receiver(s) for {open_shards} open shard(s), limited by "
        f"{' and '.join(binding)}; {cores} core(s) = {receivers} receiver(s) + "
        f"{processing_cores} for processing"
    )
    return ReceiverPlan(
        open_shards=open_shards,
        receivers=receivers,
        processing_cores=processing_cores,
        cores=cores,
        master=effective_master,
        reason=reason,
    )


MIN_BLOCK_INTERVAL_MS = 50
"""Spark's advice: below 50 ms, the blocks' overhead outweighs their parallelism."""
BLOCKS_PER_PROCESSING_CORE = 2
"""Partitions each processing core gets per batch: enough that a slow one does not hold the batch."""
MIN_BLOCKS_PER_RECEIVER = 2
"""Blocks each receiver cuts per batch: a record waits at most half a batch for its block."""


def block_interval_ms(*, batch_interval_seconds: float, receivers: int, processing_cores: int) -> int:
    """spark.streaming.blockInterval: the receivers cut a block this often, and each block is one
    partition of the batch.

    Spark's default (200 ms) gives a batch batch/0.2 blocks per receiver whatever the cores that
    process them; more than the cores can use buys nothing. After a restart it costs: a batch
    recovered from the checkpoint is read again from Kinesis block by block (the connector keeps each
    block's sequence range, not its records), and each block is a GetRecords call that counts against
    the shard's 5 reads a second, shared with the receivers. A driver killed while behind then spent
    minutes re-reading 33 blocks a batch where 6 would do. So: two blocks per processing core per
    batch, spread over the receivers, and at least two per receiver (a record waits for its block at
    most half a batch interval), never below 50 ms."""
    batch_ms = batch_interval_seconds * 1000
    per_receiver = max(
        MIN_BLOCKS_PER_RECEIVER, -(-BLOCKS_PER_PROCESSING_CORE * processing_cores // receivers)
    )
    return max(MIN_BLOCK_INTERVAL_MS, int(batch_ms // per_receiver))
