"""Finding the records a processor fails on, so that a bad record costs itself, not its batch.

A batch the processor fails on `batch_attempts` times is taken apart by `sinks.salvage_batch`: its
records, as (partition, position) in order, are halved and each half is run alone (the partitions it
touches, holding out the rest of their records), down to the records that fail on their own
(`isolate`). Each run is one Spark job over the partitions it touches, so a batch of hundreds of
partitions (a job that is behind, a restarted driver's first batch) costs a few dozen small jobs
per bad record, not one job per partition. The records left out of a run are held out by the
intake (`delivery.keep_admitted`), which each task reads when it runs from a local property of the
job (`SparkContext.setLocalProperty`: set in the thread that submits the runs, sent with each of
their tasks to any executor, seen by no other job). The same batch RDD then runs again with other
records held out, its lineage unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

# Bad records one batch may lose on its own. A batch with more (or a processor that fails on
# everything) is dead-lettered whole instead of being taken apart run by run.
ISOLATED_MOST = 32

T = TypeVar("T")


def isolation_budget(candidates: int, most: int = ISOLATED_MOST) -> int:
    """Runs enough to find `most` bad records among `candidates`: both halves at every level."""
    return 2 * max(1, math.ceil(math.log2(max(candidates, 2)))) * most


def isolate(
    candidates: Sequence[T], fails: Callable[[Sequence[T]], bool], budget: int, most: int | None = None
) -> tuple[list[T], int]:
    """The candidates that fail on their own, given that all of them together fail; and the runs
    spent. Pure: `fails(group)` runs the group alone. Halves are tried in turn, so every bad record
    is found, not only the first. A group that fails while none of its halves does fails only
    together, and is returned whole; so is a failing group whose halves the budget leaves untried.
    A group never tried is not returned: the caller's publish of everything but the returned
    records proves it good (or fails, and the caller gives the batch up whole). The search stops
    once more than `most` records are found (the caller then gives the batch up whole)."""
    runs = 0
    found = 0

    def search(group: Sequence[T]) -> list[T]:  # `group` is known to fail
        nonlocal runs, found
        if len(group) <= 1:
            found += len(group)
            return list(group)
        middle = len(group) // 2
        bad: list[T] = []
        for half in (group[:middle], group[middle:]):
            if runs < budget and (most is None or found <= most):
                runs += 1
                if fails(half):
                    bad.extend(search(half))
        if not bad:
            found += len(group)
        return bad or list(group)

    return search(candidates), runs


HELD_OUT_PROPERTY = "kinesis_pipelines.held_out"


def to_ranges(positions: Iterable[int]) -> list[list[int]]:
    """Positions as [first, last] runs (a held-out half is one or two runs, not thousands)."""
    ranges: list[list[int]] = []
    for position in sorted(set(positions)):
        if ranges and position == ranges[-1][1] + 1:
            ranges[-1][1] = position
        else:
            ranges.append([position, position])
    return ranges


def hold_out(context: Any, batch_ms: int, positions: Mapping[int, Iterable[int]]) -> None:
    """The jobs this thread submits from now on run the batch without `positions` (partition to
    positions); {} holds nothing out."""
    held = {str(partition): to_ranges(chosen) for partition, chosen in positions.items()}
    context.setLocalProperty(
        HELD_OUT_PROPERTY, json.dumps({"batch_ms": batch_ms, "held": held}) if held else None
    )


def held_out(batch_ms: int) -> dict[int, frozenset[int]]:
    """In a task: the positions of the batch's input its job holds out, or {} (every job but the
    runs of a batch being taken apart)."""
    from pyspark import TaskContext

    task = TaskContext.get()
    said = task.getLocalProperty(HELD_OUT_PROPERTY) if task is not None else None
    if not said:
        return {}
    quarantine = json.loads(said)
    if quarantine.get("batch_ms") != batch_ms:
        return {}
    return {
        int(partition): frozenset(p for first, last in ranges for p in range(first, last + 1))
        for partition, ranges in quarantine["held"].items()
    }
