"""The search for the records a processor fails on (pure: runs are a predicate here)."""

from __future__ import annotations

from collections.abc import Sequence

from kinesis_pipelines.app.isolation import ISOLATED_MOST, isolate, isolation_budget, to_ranges


def runs_failing_on(bad: set[int], seen: list[Sequence[int]]):
    def fails(group: Sequence[int]) -> bool:
        seen.append(list(group))
        return bool(bad & set(group))

    return fails


def test_one_bad_record_among_many_is_found_in_logarithmic_runs() -> None:
    seen: list[Sequence[int]] = []
    found, runs = isolate(list(range(10_000)), runs_failing_on({6_789}, seen), budget=48)
    assert found == [6_789]
    assert runs == len(seen) == 28  # two halves tried at each of 14 levels


def test_every_bad_record_is_found_not_only_the_first() -> None:
    found, _ = isolate(list(range(100)), runs_failing_on({3, 50, 99}, []), budget=100)
    assert found == [3, 50, 99]


def test_records_that_fail_only_together_are_returned_together() -> None:
    def fails(group: Sequence[int]) -> bool:
        return {10, 11} <= set(group)  # neither fails alone

    found, _ = isolate(list(range(16)), fails, budget=100)
    assert set(found) >= {10, 11} and len(found) < 16


def test_when_the_budget_runs_out_the_failing_group_is_returned_and_untried_ones_are_not() -> None:
    found, runs = isolate(list(range(1_000)), runs_failing_on({7}, []), budget=4)
    assert runs == 4
    assert found == list(range(62))  # the smallest group known to fail; the rest is for the publish
    nothing, spent = isolate(list(range(10)), runs_failing_on({7}, []), budget=0)
    assert (nothing, spent) == (list(range(10)), 0)


def test_held_out_positions_travel_as_runs() -> None:
    assert to_ranges([5, 3, 4, 9, 10, 0]) == [[0, 0], [3, 5], [9, 10]]
    assert to_ranges(range(5_000, 10_000)) == [[5_000, 9_999]]  # half a partition: one run
    assert to_ranges([]) == []


def test_the_budget_finds_the_most_bad_records_a_batch_may_lose() -> None:
    bad = {17 * n * n for n in range(ISOLATED_MOST)}  # spread over the batch
    candidates = list(range(20_000))
    found, runs = isolate(candidates, runs_failing_on(bad, []), isolation_budget(len(candidates)))
    assert set(found) == bad
    assert runs <= isolation_budget(len(candidates))


def test_the_search_stops_once_more_than_the_most_are_found() -> None:
    seen: list[Sequence[int]] = []
    found, runs = isolate(list(range(4_096)), runs_failing_on(set(range(4_096)), seen), 10_000, most=8)
    assert len(found) > 8  # the caller gives the batch up whole
    assert runs == len(seen) < 4 * 12 + 2 * 9  # down one branch, then a few siblings: not 8,190 runs
