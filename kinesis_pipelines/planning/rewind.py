"""Where KCL resumes, set against what the pipeline delivered. When the old generation's checkpoint
cannot be recovered, a new generation starts from what was delivered, not from KCL's positions;
and no driver starts behind what was delivered (`plan_advance`).

KCL checkpoints a shard once a block is stored (in the receivers' write-ahead log), before the
batch holding it is processed. When a generation's checkpoint is lost, what it stored and never
delivered exists nowhere but in the stream, behind KCL's checkpoint. The delivery ledger keeps, per
shard, the last sequence number of the batches it published (`delivered-positions.json`); a
lease checkpointed past that is moved back to it, and the ledger drops what the re-read delivers
twice (within its window). Pure: leases and positions in, moves out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

TRIM_HORIZON = "TRIM_HORIZON"


class LeaseMove(BaseModel):
    model_config = ConfigDict(frozen=True)

    shard_id: str
    checkpoint: str | None  # where KCL would resume
    to: str  # where the new generation must resume
    why: str


class RewindPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    moves: list[LeaseMove]
    kept: list[str]  # shards already at or behind what was delivered
    unknown: str | None = None  # why nothing could be planned, if so

    def describe(self) -> str:
        if self.unknown:
            return self.unknown
        if not self.moves:
            return "every shard's KCL position is at or behind what was delivered: nothing to re-read"
        moved = "; ".join(f"{m.shard_id} back from {m.checkpoint} to {m.to}" for m in self.moves)
        return f"re-reading what was received and not delivered: {moved}"


def _is_sequence(value: str | None) -> bool:
    return value is not None and value.isdigit()


def plan_rewind(checkpoints: dict[str, str | None], delivered: dict[str, str] | None) -> RewindPlan:
    """`checkpoints`: each lease's KCL checkpoint by shard; `delivered`: the ledger's positions
    (None when the ledger never recorded any, as before this was kept: then nothing can be
    planned, and the plan says so)."""
    if delivered is None:
        return RewindPlan(
            moves=[],
            kept=[],
            unknown=(
                "the delivery ledger has no delivered positions (a pipeline from before they were "
                "kept): KCL's positions stand, and records the lost generation received and never "
                "delivered are not read again"
            ),
        )
    moves, kept = [], []
    for shard, checkpoint in sorted(checkpoints.items()):
        position = delivered.get(shard)
        if checkpoint in (TRIM_HORIZON, None):
            kept.append(shard)  # reads from its start anyway
        elif position is None:
            moves.append(
                LeaseMove(
                    shard_id=shard,
                    checkpoint=checkpoint,
                    to=TRIM_HORIZON,
                    why="nothing of this shard was ever delivered",
                )
            )
        elif not _is_sequence(checkpoint) or int(checkpoint or 0) > int(position):
            moves.append(
                LeaseMove(
                    shard_id=shard,
                    checkpoint=checkpoint,
                    to=position,
                    why="delivered up to here",
                )
            )
        else:
            kept.append(shard)
    return RewindPlan(moves=moves, kept=kept)


class AdvancePlan(BaseModel):
    """Leases whose KCL checkpoint is behind what the pipeline published, moved up to it before a
    driver's receivers start, so what was published is not read again."""

    model_config = ConfigDict(frozen=True)

    moves: list[LeaseMove]

    def describe(self) -> str:
        if not self.moves:
            return "every shard's KCL position is at or past what was delivered"
        moved = "; ".join(f"{m.shard_id} from {m.checkpoint} up to {m.to}" for m in self.moves)
        return f"not reading again what was delivered: {moved}"


def plan_advance(checkpoints: dict[str, str | None], delivered: dict[str, str] | None) -> AdvancePlan:
    """The leases to move forward to the ledger's delivered positions.

    A driver starts KCL at each lease's checkpoint, which a starved or killed driver may have left
    far behind what it published (KCL checkpoints on a timer, the sink publishes per batch). The
    ledger drops a re-read record only within its window (`job.dedupe_window_seconds`); a lease
    moved up to the last published sequence number re-reads none of them, whatever the window.
    Only a lease at a sequence number below the position is moved: never backward, never a
    TRIM_HORIZON, LATEST or SHARD_END one (a position from before the stream was made again would
    not be this shard's), never a shard with no position. Pure."""
    moves = []
    for shard, checkpoint in sorted(checkpoints.items()):
        position = (delivered or {}).get(shard)
        if position is None or not _is_sequence(position):
            continue
        if _is_sequence(checkpoint) and int(checkpoint or 0) < int(position):
            moves.append(
                LeaseMove(shard_id=shard, checkpoint=checkpoint, to=position, why="published up to here")
            )
    return AdvancePlan(moves=moves)
