"""Capacity rebalancing as one plan: the shard count the stream needs, the UpdateShardCount
steps that reach it within Kinesis's rules, and the receivers and cores the job then needs.
Pure: metrics, history and time come in as arguments.

Kinesis's rules for UpdateShardCount (provisioned mode only): each call at most doubles or at
least halves the open shards, and a stream takes at most 10 calls per rolling 24 hours. New child
shards are read only after their parents are drained, so adding shards does not relieve a
backlog that already exists; and a stream is never scaled down while its consumer is behind."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kinesis_pipelines.planning.receivers import plan_receivers

RECORDS_PER_SHARD = 1000.0  # writes per second per shard
BYTES_PER_SHARD = 1024.0 * 1024.0
DAILY_CALLS = 10
DAY_SECONDS = 24 * 3600.0


class RebalancePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Run the rebalance schedule.")
    schedule: str = Field("*/15 * * * *", description="Cron schedule of the rebalance job.")
    target_utilization: float = Field(
        0.6, gt=0, le=1, description="Share of the per-shard write limits to plan for."
    )
    scale_up_threshold: float = Field(0.8, gt=0, le=1, description="Scale up above this.")
    scale_down_threshold: float = Field(0.3, ge=0, lt=1, description="Scale down below this.")
    min_shards: int = Field(1, ge=1, le=10000, description="Never fewer open shards than this.")
    max_shards: int = Field(16, ge=1, le=10000, description="Never more open shards than this.")
    cooldown_seconds: float = Field(3600.0, ge=0, description="No scale-down this soon after a change.")
    lag_limit_seconds: float = Field(
        60.0, gt=0, description="Behind by more than this, the consumer is behind: no scale-down."
    )
    dry_run: bool = Field(False, description="Plan and record, change nothing.")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(re.match(r"^[\d*/,\-A-Za-z]+$", f) for f in fields):
            raise ValueError("a cron schedule has five fields, like '*/15 * * * *'")
        return value

    @model_validator(mode="after")
    def _order(self) -> RebalancePolicy:
        if not self.scale_down_threshold < self.target_utilization <= self.scale_up_threshold:
            raise ValueError(
                "thresholds must satisfy scale_down_threshold < target_utilization <= "
                f"scale_up_threshold (got {self.scale_down_threshold}, {self.target_utilization}, "
                f"{self.scale_up_threshold})"
            )
        if self.min_shards > self.max_shards:
            raise ValueError(f"min_shards ({self.min_shards}) exceeds max_shards ({self.max_shards})")
        return self


class Metrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    incoming_records_per_s: float = Field(ge=0)
    incoming_bytes_per_s: float | None = Field(None, ge=0)
    max_lag_seconds: float = Field(0.0, ge=0)
    source: str = "spark"


class RebalancePlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: str  # scale_up, scale_down, none, refused
    shards_before: int
    shards_after: int
    steps: list[int]
    receivers_before: int
    receivers_after: int
    cores_before: int
    cores_after: int
    utilization: float
    quota_left: int
    reason: str
    dry_run: bool = False


def outside_change(recorded_shards: int | None, open_shards: int, mode: str) -> bool:
    """A reshard made elsewhere (the console, a script, another host): a provisioned stream's
    open shards differ from what the ledger last saw. It spent at least one of the day's
    UpdateShardCount calls. On-demand streams scale themselves and spend none."""
    return mode == "PROVISIONED" and recorded_shards is not None and recorded_shards != open_shards


def split_steps(current: int, target: int) -> list[int]:
    """UpdateShardCount targets from current to target, each at most double / at least half."""
    steps: list[int] = []
    count = current
    while count != target:
        count = min(target, count * 2) if target > count else max(target, math.ceil(count / 2))
        steps.append(count)
    return steps


def plan_rebalance(
    policy: RebalancePolicy,
    metrics: Metrics,
    open_shards: int,
    capacity_mode: str,
    calls_in_last_day: list[float],
    last_change_at: float | None,
    now: float,
    max_receivers: int,
    executor_cores: int,
    processing_cores: int,
    master: str,
) -> RebalancePlan:
    records_share = metrics.incoming_records_per_s / (open_shards * RECORDS_PER_SHARD)
    bytes_share = (metrics.incoming_bytes_per_s or 0.0) / (open_shards * BYTES_PER_SHARD)
    utilization = max(records_share, bytes_share)
    needed = (
        max(
            metrics.incoming_records_per_s / RECORDS_PER_SHARD,
            (metrics.incoming_bytes_per_s or 0.0) / BYTES_PER_SHARD,
        )
        / policy.target_utilization
    )
    desired = min(policy.max_shards, max(policy.min_shards, math.ceil(needed) or 1))
    quota_left = DAILY_CALLS - len([t for t in calls_in_last_day if now - t < DAY_SECONDS])
    before = plan_receivers(
        open_shards=open_shards,
        max_receivers=max_receivers,
        executor_cores=executor_cores,
        processing_cores=processing_cores,
        master=master,
    )

    def result(action: str, target: int, steps: list[int], reason: str) -> RebalancePlan:
        after = plan_receivers(
            open_shards=target,
            max_receivers=max_receivers,
            executor_cores=executor_cores,
            processing_cores=processing_cores,
            master=master,
        )
        return RebalancePlan(
            action=action,
            shards_before=open_shards,
            shards_after=target,
            steps=steps,
            receivers_before=before.receivers,
            receivers_after=after.receivers,
            cores_before=before.cores,
            cores_after=after.cores,
            utilization=round(utilization, 4),
            quota_left=max(0, quota_left),
            reason=reason,
            dry_run=policy.dry_run,
        )

    usage = (
        f"writes at {utilization:.0%} of {open_shards} shard(s)' limits "
        f"({metrics.incoming_records_per_s:.0f} records/s)"
    )
    if capacity_mode != "PROVISIONED":
        return result(
            "none",
            open_shards,
            [],
            f"{usage}; on-demand streams scale themselves (UpdateShardCount is for provisioned mode only)",
        )
    behind = metrics.max_lag_seconds > policy.lag_limit_seconds
    if open_shards < policy.min_shards or open_shards > policy.max_shards:
        direction = "up" if open_shards < policy.min_shards else "down"
        target = policy.min_shards if direction == "up" else policy.max_shards
        why = f"{open_shards} shard(s) is outside min {policy.min_shards} / max {policy.max_shards}"
    elif utilization > policy.scale_up_threshold and desired > open_shards:
        direction, target = "up", desired
        why = f"{usage}, above the scale-up threshold {policy.scale_up_threshold:.0%}"
    elif utilization < policy.scale_down_threshold and desired < open_shards:
        direction, target = "down", desired
        why = f"{usage}, below the scale-down threshold {policy.scale_down_threshold:.0%}"
    else:
        note = ""
        if behind:
            note = (
                f"; the consumer is {metrics.max_lag_seconds:.0f} s behind, but more shards "
                "would not help: children are read only after their parents drain"
            )
        return result("none", open_shards, [], f"{usage}: within thresholds{note}")
    if direction == "down" and behind:
        return result(
            "none",
            open_shards,
            [],
            f"{why}, but the consumer is {metrics.max_lag_seconds:.0f} s behind "
            f"(limit {policy.lag_limit_seconds:.0f} s): no scale-down while behind",
        )
    if direction == "down" and last_change_at is not None and now - last_change_at < policy.cooldown_seconds:
        wait = policy.cooldown_seconds - (now - last_change_at)
        return result(
            "none",
            open_shards,
            [],
            f"{why}, but the last change was {now - last_change_at:.0f} s ago: "
            f"cooling down {wait:.0f} s more",
        )
    steps = split_steps(open_shards, target)
    if quota_left <= 0:
        return result(
            "refused",
            open_shards,
            [],
            f"{why}, but the daily UpdateShardCount quota is used up "
            f"({DAILY_CALLS} calls in 24 h): nothing changes",
        )
    if len(steps) > quota_left:
        steps = steps[:quota_left]
        why += f"; only {quota_left} call(s) left today, so stopping at {steps[-1]} shards"
    action = "scale_up" if direction == "up" else "scale_down"
    return result(
        action, steps[-1], steps, f"{why}: {open_shards} → {steps[-1]} shard(s) in {len(steps)} call(s)"
    )
