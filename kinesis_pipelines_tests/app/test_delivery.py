"""The delivery ledger's decisions and what it keeps on disk (pure logic and files, no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinesis_pipelines.app.delivery import (
    DeliveryLedger,
    decide,
    keep_elements,
    read_positions,
    read_totals,
    retained_batches,
    split_keyed,
)


def located(*keys: str, partition: int = 0) -> list[tuple[int, int, str]]:
    return [(partition, position, key) for position, key in enumerate(keys)]


def deliver(ledger: DeliveryLedger, batch_ms: int, keys: list[tuple[int, int, str]]) -> dict[int, set[int]]:
    """A batch decided when generated and committed once its output is published."""
    drops = ledger.admit(batch_ms, keys)
    ledger.commit(batch_ms)
    return drops


def test_a_keyed_element_splits_at_the_first_newline_only() -> None:
    assert split_keyed(b"495:1a2b\nline one\nline two") == ("495:1a2b", b"line one\nline two")
    assert split_keyed(b"495:1a2b\n") == ("495:1a2b", b"")
    # the header's partition key and arrival time are not part of the key
    assert split_keyed(b"495:1a2b cGs= 1700000000000\ndata") == ("495:1a2b", b"data")


def test_records_admitted_by_an_earlier_batch_are_dropped() -> None:
    drops, admitted = decide(2000, located("a", "b", "c"), {"a": 1000, "x": 1000})
    assert drops == {0: {0}}
    assert admitted == ["b", "c"]


def test_a_second_copy_within_a_batch_is_dropped_and_the_first_kept() -> None:
    keys = located("a", "b", partition=0) + located("b", "a", "c", partition=1)
    drops, admitted = decide(1000, keys, {})
    assert drops == {1: {0, 1}}
    assert admitted == ["a", "b", "c"]


def test_a_batch_is_judged_only_against_batches_before_it() -> None:
    """A batch Spark generates again after a restart must get the decision it got the first time,
    even though the ledger now also knows the batches after it."""
    first_seen = {"a": 1000, "b": 2000, "c": 3000}
    assert decide(2000, located("a", "b", "c"), first_seen) == ({0: {0}}, ["b", "c"])


def test_a_restarted_driver_remembers_what_its_predecessor_delivered(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    assert deliver(ledger, 1000, located("a", "b")) == {}
    assert deliver(ledger, 2000, located("b", "c")) == {0: {0}}

    restarted = DeliveryLedger(str(tmp_path), retained=10)
    assert deliver(restarted, 3000, located("a", "c", "d")) == {0: {0, 1}}
    assert read_totals(str(tmp_path)) == {"admitted": 4, "dropped": 3, "dead_lettered": 0}


def test_a_replayed_batch_gets_the_same_decision_and_is_not_counted_twice(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    deliver(ledger, 1000, located("a", "b"))
    first = deliver(ledger, 2000, located("b", "c"))
    deliver(ledger, 3000, located("d"))

    restarted = DeliveryLedger(str(tmp_path), retained=10)
    assert deliver(restarted, 2000, located("b", "c")) == first
    assert deliver(restarted, 3000, located("d")) == {}
    assert read_totals(str(tmp_path)) == {"admitted": 4, "dropped": 1, "dead_lettered": 0}


def test_only_the_retained_batches_are_remembered(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=2)
    deliver(ledger, 1000, located("a"))
    deliver(ledger, 2000, located("b"))
    deliver(ledger, 3000, located("c"))
    assert sorted(path.name for path in tmp_path.glob("*.keys")) == [
        "000000000002000.keys",
        "000000000003000.keys",
    ]
    assert deliver(ledger, 4000, located("a", "b", "c")) == {0: {1, 2}}  # "a" is forgotten


def test_empty_batches_do_not_use_up_the_window(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=1)
    deliver(ledger, 1000, located("a"))
    for batch_ms in range(2000, 10000, 1000):
        deliver(ledger, batch_ms, [])
    assert deliver(ledger, 10000, located("a")) == {0: {0}}


def test_keep_elements_drops_the_chosen_positions_and_keeps_the_headers() -> None:
    elements = [b"k1\none", b"k2\ntwo", b"k3\nthree"]
    assert list(keep_elements({0: {1}}, 0, iter(elements))) == [b"k1\none", b"k3\nthree"]
    assert list(keep_elements({0: {1}}, 1, iter(elements))) == elements


def test_a_batch_that_never_completed_admits_nothing(tmp_path: Path) -> None:
    """The ledger commits after the sink: a batch decided but never published (its driver was
    killed, or a roll cut it off) must not make its records count as delivered."""
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    deliver(ledger, 1000, located("a"))
    assert ledger.admit(2000, located("b", "c")) == {}  # generated, never published

    successor = DeliveryLedger(str(tmp_path), retained=10)
    assert deliver(successor, 5000, located("a", "b", "c")) == {0: {0}}  # b and c are delivered now
    assert read_totals(str(tmp_path)) == {"admitted": 3, "dropped": 1, "dead_lettered": 0}


def test_batches_generated_before_the_last_one_published_still_see_its_keys(tmp_path: Path) -> None:
    """Under a backlog Spark generates batches ahead of the one being processed: a record read
    twice across two such batches is still dropped once."""
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    assert ledger.admit(1000, located("a", "b")) == {}
    assert ledger.admit(2000, located("b", "c")) == {0: {0}}
    ledger.commit(1000)
    ledger.commit(2000)
    assert read_totals(str(tmp_path)) == {"admitted": 3, "dropped": 1, "dead_lettered": 0}


def test_dead_letters_count_in_the_totals_once(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    ledger.admit(1000, located("a", "b", "c"))
    ledger.note_dead_letters(1000, 1)
    ledger.commit(1000, dead_lettered=2)
    ledger.admit(1000, located("a", "b", "c"))  # replayed after a restart: counted once
    ledger.commit(1000, dead_lettered=2)
    assert read_totals(str(tmp_path)) == {"admitted": 3, "dropped": 0, "dead_lettered": 3}


@pytest.mark.parametrize(
    ("window", "interval", "expected"), [(120, 2, 60), (1, 2, 1), (10, 3, 4), (0.5, 0.5, 1)]
)
def test_the_window_is_counted_in_batches(window: float, interval: float, expected: int) -> None:
    assert retained_batches(window, interval) == expected


def test_delivered_positions_move_only_when_a_batch_is_published(tmp_path: Path) -> None:
    """Per shard, the last sequence number of a published batch: what a generation that lost its
    checkpoint must resume from. A batch never published moves nothing."""
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    assert read_positions(str(tmp_path)) is None
    ledger.admit(1000, located("a"))
    ledger.note_positions(1000, {"shard-0": "49500", "shard-1": "7"})
    ledger.commit(1000)
    ledger.admit(2000, located("b"))
    ledger.note_positions(2000, {"shard-0": "495000000000000000000000000000000000000000000000000001"})
    assert read_positions(str(tmp_path)) == {"shard-0": "49500", "shard-1": "7"}  # not published yet
    ledger.commit(2000)
    ledger.note_positions(3000, {"shard-1": "6"})  # a re-read of older records: positions stay
    ledger.commit(3000)
    assert read_positions(str(tmp_path)) == {
        "shard-0": "495000000000000000000000000000000000000000000000000001",
        "shard-1": "7",
    }
