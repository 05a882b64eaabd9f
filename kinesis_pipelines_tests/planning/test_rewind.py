"""Where a generation that lost its checkpoint resumes: what was delivered, not KCL's positions."""

from __future__ import annotations

from kinesis_pipelines.planning.rewind import TRIM_HORIZON, plan_advance, plan_rewind


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


def test_a_lease_behind_what_was_published_moves_up_to_it_and_no_lease_moves_back() -> None:
    plan = plan_advance(
        {
            "shardId-0": "100",  # behind: a starved driver's KCL checkpointed late
            "shardId-1": "900",  # past what was published: KCL's own (blocks in the write-ahead log)
            "shardId-2": "500",  # exactly there
            "shardId-3": None,  # no checkpoint yet
            "shardId-4": TRIM_HORIZON,  # from the start: a position may be of an earlier stream
            "shardId-5": "LATEST",
            "shardId-6": "SHARD_END",
            "shardId-7": "10",  # nothing of this shard published
        },
        {"shardId-0": "400", "shardId-1": "800", "shardId-2": "500", "shardId-3": "7",
         "shardId-4": "7", "shardId-5": "7", "shardId-6": "7"},
    )  # fmt: skip
    assert [(m.shard_id, m.checkpoint, m.to) for m in plan.moves] == [("shardId-0", "100", "400")]
    assert plan.describe() == "not reading again what was delivered: shardId-0 from 100 up to 400"


def test_advancing_compares_sequence_numbers_as_numbers_and_needs_positions() -> None:
    big = "49590338271490256608559692538361571095921575989136588898"
    assert [m.to for m in plan_advance({"s": "9" * 20}, {"s": big}).moves] == [big]
    assert plan_advance({"s": big}, {"s": "9" * 20}).moves == []
    assert plan_advance({"s": "1"}, None).moves == []
    assert (
        plan_advance({"s": "1"}, None).describe()
        == "every shard's KCL position is at or past what was delivered"
    )
