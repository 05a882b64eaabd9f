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
