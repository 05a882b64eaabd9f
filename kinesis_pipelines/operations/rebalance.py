"""Rebalancing one pipeline: measure, plan (pure, planning/reshard.py), apply, record.

Applying a plan reshards the stream step by step (UpdateShardCount, waiting for ACTIVE after
each), then rolls the job to the matching receivers: a graceful stop and a new checkpoint
generation, with the KCL leases carrying every shard's position across the switch. A pipeline
that is not deployed, or that an operator stopped, is skipped with the reason."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from kinesis_pipelines.aws.cloudwatch import stream_metrics
from kinesis_pipelines.errors import StreamMissingError
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.operations.deploy import roll_for_rebalance
from kinesis_pipelines.operations.supervise import lag_per_shard
from kinesis_pipelines.planning.reshard import (
    DAY_SECONDS,
    Metrics,
    RebalancePlan,
    outside_change,
    plan_rebalance,
)
from kinesis_pipelines.spec import PipelineSpec

MEASURE_WINDOW_SECONDS = 30.0


class RebalanceOutcome(BaseModel):
    plan: RebalancePlan | None = None
    metrics: Metrics | None = None
    applied: bool = False
    skipped: str | None = None
    generation: str | None = None
    # the roll to the new receivers: whether the old generation drained (None: nothing to drain),
    # was launched again to drain, and what happened
    drained: bool | None = None
    drain_relaunched: bool = False
    roll_reason: str = ""


def not_running_reason(spec: PipelineSpec, backends: Backends) -> str | None:
    """Why rebalancing this pipeline makes no sense now, or None if it does."""
    if backends.store.driver() is None:
        return f"{spec.name} is not deployed: nothing to rebalance"
    intent = backends.store.intent()
    if intent is not None and intent.desired == "stopped":
        return f"{spec.name} was stopped on request ({intent.by}): not rebalanced until deployed"
    return None


def measure(
    spec: PipelineSpec, backends: Backends, now: float, window: float = MEASURE_WINDOW_SECONDS
) -> Metrics:
    """CloudWatch's AWS/Kinesis metrics where there are any; otherwise incoming records/s from
    the driver's completed batches in the `window` seconds before `now` and the worst shard lag
    from the lease table's checkpoints (the embedded AWS publishes no AWS/Kinesis metrics)."""
    from_cloudwatch = stream_metrics(backends.cloudwatch, spec.stream.name, now)
    if from_cloudwatch is not None:
        return from_cloudwatch
    record = backends.store.driver()
    batches = monitoring.completed_batches(backends.launcher, record) if record else []
    recent = [b for b in batches if now - _epoch_seconds(b["batchTime"]) <= window]
    records = sum(int(b.get("inputSize", 0)) for b in recent)
    lag = lag_per_shard(backends)
    return Metrics(
        incoming_records_per_s=records / window,
        max_lag_seconds=max(lag.values(), default=0) / 1000,
        source=f"spark batches over {window:.0f} s; lease-table lag",
    )


def rebalance(
    spec: PipelineSpec,
    backends: Backends,
    now: float,
    dry_run: bool | None = None,
    metrics: Metrics | None = None,
    progress: Progress = quiet,
) -> RebalanceOutcome:
    skipped = not_running_reason(spec, backends)
    if skipped is not None:
        progress(skipped)
        return RebalanceOutcome(skipped=skipped)
    stream = backends.stream
    summary = stream.describe()
    if summary is None:
        reason = f"stream {spec.stream.name} does not exist: deploy {spec.name} first"
        progress(reason)
        return RebalanceOutcome(skipped=reason)
    try:
        open_shards = len(stream.open_shard_ids())
    except StreamMissingError as exc:
        return RebalanceOutcome(skipped=str(exc))
    mode = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    history = backends.store.reshards()
    if outside_change(history.shards, open_shards, mode):
        progress(
            f"{spec.name}: {spec.stream.name} has {open_shards} open shard(s), not the {history.shards} "
            "this ledger last saw: a reshard made elsewhere, counted as one UpdateShardCount call"
        )
        history = history.model_copy(update={"calls": [*history.calls, now], "last_change_at": now})
    if history.shards != open_shards:
        history = history.model_copy(update={"shards": open_shards})
        backends.store.save_reshards(history)
    metrics = metrics or measure(spec, backends, now)
    policy = spec.rebalancing
    if dry_run is not None:
        policy = policy.model_copy(update={"dry_run": dry_run})
    plan = plan_rebalance(
        policy, metrics, open_shards, mode,
        calls_in_last_day=[t for t in history.calls if now - t < DAY_SECONDS],
        last_change_at=history.last_change_at, now=now,
        max_receivers=spec.job.max_receivers, executor_cores=spec.job.executor_cores,
        processing_cores=spec.job.processing_cores, master=spec.job.master,
    )  # fmt: skip
    progress(plan.reason)
    if plan.action not in ("scale_up", "scale_down") or plan.dry_run:
        return RebalanceOutcome(plan=plan, metrics=metrics)
    for target in plan.steps:
        progress(f"{spec.name}: UpdateShardCount {stream.stream_name} → {target}")
        stream.update_shard_count(target)
        history = history.model_copy(update={"calls": [*history.calls, now], "last_change_at": now})
        backends.store.save_reshards(history)
        stream.wait_active(progress, timeout=300)
    history = history.model_copy(update={"shards": len(stream.open_shard_ids())})
    backends.store.save_reshards(history)
    result = roll_for_rebalance(spec, backends, progress=progress)
    generation = result.record.generation if result.record else None
    return RebalanceOutcome(
        plan=plan, metrics=metrics, applied=True, generation=generation, drained=result.drained,
        drain_relaunched=result.drain_relaunched, roll_reason=result.reason,
    )  # fmt: skip


def _epoch_seconds(batch_time: str) -> float:
    return datetime.strptime(batch_time.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
