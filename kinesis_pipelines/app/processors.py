"""Example processors. A processor takes the DStream of decoded records (str) and returns a
DStream whose elements the sink writes, one JSON line each."""

from __future__ import annotations

from typing import Any


def passthrough(records: Any) -> Any:
    """Every record, unchanged: what record-accounting tests and the demo use."""
    return records


def word_count(records: Any) -> Any:
    """The Spark guide's example: (word, count) for each word in the batch."""
    return (
        records.flatMap(lambda line: line.split(" "))
        .filter(lambda word: word != "")
        .map(lambda word: (word, 1))
        .reduceByKey(lambda a, b: a + b)
    )


def fail_every_batch(records: Any) -> Any:
    """Raises in every batch: for testing how failures surface."""

    def boom(record: str) -> str:
        raise RuntimeError(f"processor failed on purpose on {record!r}")

    return records.map(boom)


POISON_PREFIX = "poison"


def fail_on_poison(records: Any) -> Any:
    """Every record, except that a record starting with "poison" makes its batch fail: for
    testing what becomes of a batch the processor cannot process (dead letters)."""

    def check(record: str) -> str:
        if record.startswith(POISON_PREFIX):
            raise RuntimeError(f"processor cannot handle {record!r}")
        return record

    return records.map(check)


SLOW_SECONDS_PER_RECORD = 0.01


def slow_passthrough(records: Any) -> Any:
    """Every record, at about 100 records/s per processing core: a processor slower than the
    stream, for testing what a roll or a restart does to a backlog."""

    def slowly(record: str) -> str:
        import time

        time.sleep(SLOW_SECONDS_PER_RECORD)
        return record

    return records.map(slowly)
