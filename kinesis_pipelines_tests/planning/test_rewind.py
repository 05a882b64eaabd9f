"""Where a generation that lost its checkpoint resumes: what was delivered, not KCL's positions."""

from __future__ import annotations

from kinesis_pipelines.planning.rewind import TRIM_HORIZON, plan_rewind


def lease(shard: str, checkpoint: str | None) -> dict[str, str | None]:
    return {shard: checkpoint}


def leases(*each: dict[str, str | None]) -> dict[str, str | None]:
    return {shard: checkpoint for one in each for shard, checkpoint in one.items()}


def test_a_shard_checkpointed_past_what_was_delivered_goes_back_to_it() -> None:
    plan = plan_rewind(leases(lease("s0", "900"), lease("s1", "500")), {"s0": "700", "s1": "500"})
    assert [(m.shard_id, m.checkpoint, m.to) for m in plan.moves] == [("s0", "900", "700")]
    assert plan.kept == ["s1"]
    assert "s0 back from 900 to 700" in plan.describe()


def test_a_shard_nothing_of_which_was_delivered_is_read_from_its_start() -> None:
    plan = plan_rewind(leases(lease("s0", "900"), lease("s1", TRIM_HORIZON)), {"other": "1"})
    assert [(m.shard_id, m.to) for m in plan.moves] == [("s0", TRIM_HORIZON)]
    assert plan.kept == ["s1"]


def test_a_finished_shard_not_wholly_delivered_is_read_again_from_what_was() -> None:
    plan = plan_rewind(leases(lease("s0", "SHARD_END")), {"s0": "123"})
    assert [(m.checkpoint, m.to) for m in plan.moves] == [("SHARD_END", "123")]


def test_without_delivered_positions_nothing_is_planned_and_the_plan_says_why() -> None:
    plan = plan_rewind(leases(lease("s0", "900")), None)
    assert plan.moves == [] and plan.unknown and "not read again" in plan.describe()


def test_sequence_numbers_compare_as_numbers_not_strings() -> None:
    plan = plan_rewind(leases(lease("s0", "1000")), {"s0": "999"})
    assert [m.to for m in plan.moves] == ["999"]
    assert plan_rewind(leases(lease("s0", "999")), {"s0": "1000"}).moves == []
