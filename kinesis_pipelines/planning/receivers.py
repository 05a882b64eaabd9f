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
