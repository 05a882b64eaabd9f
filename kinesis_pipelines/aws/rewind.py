"""Moving a lost generation's KCL checkpoints back to what the pipeline delivered
(planning/rewind.py decides; this writes it). Called only while no driver of the pipeline reads:
by a roll after the old driver is gone, or by a new driver before it creates its receivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kinesis_pipelines.aws.dynamodb import AppTable, Lease, set_checkpoint
from kinesis_pipelines.planning.rewind import AdvancePlan, LeaseMove, RewindPlan, plan_advance, plan_rewind


def rewind_leases(
    client: Any, application: str, delivered: dict[str, str] | None, say: Callable[[str], None]
) -> RewindPlan:
    """Each move takes the lease from its owner, on condition that nothing changed it since it
    was read; a lease that changed is left as it is, and said."""
    leases = _leases(client, application)
    plan = plan_rewind({shard: lease.checkpoint for shard, lease in leases.items()}, delivered)
    _move(client, application, leases, plan.moves, "back", say)
    say(plan.describe())
    return plan


def advance_leases(
    client: Any, application: str, delivered: dict[str, str] | None, say: Callable[[str], None]
) -> AdvancePlan:
    """Move each lease behind what was delivered up to it (planning/rewind.py::plan_advance),
    on the same condition as a rewind; a lease that changed meanwhile is left, and said."""
    leases = _leases(client, application)
    plan = plan_advance({shard: lease.checkpoint for shard, lease in leases.items()}, delivered)
    _move(client, application, leases, plan.moves, "up", say)
    if plan.moves:
        say(plan.describe())
    return plan


def _leases(client: Any, application: str) -> dict[str, Lease]:
    return {lease.shard_id: lease for lease in AppTable(client, application).leases()}


def _move(
    client: Any,
    application: str,
    leases: dict[str, Lease],
    moves: list[LeaseMove],
    direction: str,
    say: Callable[[str], None],
) -> None:
    for move in moves:
        if not set_checkpoint(client, application, leases[move.shard_id], move.to):
            say(f"{move.shard_id}'s lease changed while being moved {direction} to {move.to}; left as it is")
