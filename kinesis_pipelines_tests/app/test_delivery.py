"""The delivery ledger's decisions and what it keeps on disk (pure logic and files, no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinesis_pipelines.app.delivery import (
    DeliveryLedger,
    decide,
    keep_data,
    read_totals,
    retained_batches,
    split_keyed,
)


def located(*keys: str, partition: int = 0) -> list[tuple[int, int, str]]:
    return [(partition, position, key) for position, key in enumerate(keys)]


def test_a_keyed_element_splits_at_the_first_newline_only() -> None:
    assert split_keyed(b"495:1a2b\nline one\nline two") == ("495:1a2b", b"line one\nline two")
    assert split_keyed(b"495:1a2b\n") == ("495:1a2b", b"")


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
    assert ledger.admit(1000, located("a", "b")) == {}
    assert ledger.admit(2000, located("b", "c")) == {0: {0}}

    restarted = DeliveryLedger(str(tmp_path), retained=10)
    assert restarted.admit(3000, located("a", "c", "d")) == {0: {0, 1}}
    assert read_totals(str(tmp_path)) == {"admitted": 4, "dropped": 3}


def test_a_replayed_batch_gets_the_same_decision_and_is_not_counted_twice(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=10)
    ledger.admit(1000, located("a", "b"))
    first = ledger.admit(2000, located("b", "c"))
    ledger.admit(3000, located("d"))

    restarted = DeliveryLedger(str(tmp_path), retained=10)
    assert restarted.admit(2000, located("b", "c")) == first
    assert restarted.admit(3000, located("d")) == {}
    assert read_totals(str(tmp_path)) == {"admitted": 4, "dropped": 1}


def test_only_the_retained_batches_are_remembered(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=2)
    ledger.admit(1000, located("a"))
    ledger.admit(2000, located("b"))
    ledger.admit(3000, located("c"))
    assert sorted(path.name for path in tmp_path.glob("*.keys")) == [
        "000000000002000.keys",
        "000000000003000.keys",
    ]
    assert ledger.admit(4000, located("a", "b", "c")) == {0: {1, 2}}  # "a" is forgotten


def test_empty_batches_do_not_use_up_the_window(tmp_path: Path) -> None:
    ledger = DeliveryLedger(str(tmp_path), retained=1)
    ledger.admit(1000, located("a"))
    for batch_ms in range(2000, 10000, 1000):
        ledger.admit(batch_ms, [])
    assert ledger.admit(10000, located("a")) == {0: {0}}


def test_keep_data_drops_the_chosen_positions_and_strips_keys() -> None:
    elements = [b"k1\none", b"k2\ntwo", b"k3\nthree"]
    assert list(keep_data({0: {1}}, 0, iter(elements))) == [b"one", b"three"]
    assert list(keep_data({0: {1}}, 1, iter(elements))) == [b"one", b"two", b"three"]


@pytest.mark.parametrize(
    ("window", "interval", "expected"), [(120, 2, 60), (1, 2, 1), (10, 3, 4), (0.5, 0.5, 1)]
)
def test_the_window_is_counted_in_batches(window: float, interval: float, expected: int) -> None:
    assert retained_batches(window, interval) == expected
