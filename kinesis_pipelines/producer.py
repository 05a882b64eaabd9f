"""Test traffic for a stream: the Spark guide's word producer, and unique ids for accounting."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_BATCH = 500  # PutRecords accepts at most 500 records a call


class Accounting(BaseModel):
    """Records in against records out."""

    model_config = ConfigDict(frozen=True)

    produced: int
    processed: int
    distinct: int
    lost: int
    duplicates: int
    unexpected: int


def unique_ids(run_id: str, count: int, start: int = 0) -> list[str]:
    return [f"{run_id}-{n:09d}" for n in range(start, start + count)]


def word_lines(lines: int, words_per_line: int, rng: random.Random) -> list[str]:
    """Like the guide's producer: lines of random numbers 0-9 as words."""
    return [" ".join(str(rng.randint(0, 9)) for _ in range(words_per_line)) for _ in range(lines)]


class PutSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    sent: int
    last_sequence_by_shard: dict[str, str]


def put_all(
    client: Any,
    stream: str,
    records: Iterable[str],
    rate_per_second: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> PutSummary:
    """Put every record (retrying the ones Kinesis refuses), at most `rate_per_second`."""
    sent = 0
    last: dict[str, int] = {}
    started = time.monotonic()
    for batch in _batches(records, MAX_BATCH):
        pending = [{"Data": r.encode(), "PartitionKey": r} for r in batch]
        attempt = 0
        while pending:
            response = client.put_records(StreamName=stream, Records=pending)
            refused = []
            for entry, result in zip(pending, response["Records"], strict=True):
                if "ErrorCode" in result:
                    refused.append(entry)
                else:
                    shard, number = result["ShardId"], int(result["SequenceNumber"])
                    last[shard] = max(last.get(shard, 0), number)
            pending = refused
            if pending:
                attempt += 1
                time.sleep(min(2.0, 0.05 * 2**attempt))
        sent += len(batch)
        if progress is not None:
            progress(sent)
        if rate_per_second:
            ahead = sent / rate_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return PutSummary(sent=sent, last_sequence_by_shard={k: str(v) for k, v in last.items()})


def account(expected: Iterable[str], observed: Iterable[str]) -> Accounting:
    wanted = set(expected)
    seen = Counter(observed)
    matched = {key: n for key, n in seen.items() if key in wanted}
    return Accounting(
        produced=len(wanted),
        processed=sum(matched.values()),
        distinct=len(matched),
        lost=len(wanted) - len(matched),
        duplicates=sum(n - 1 for n in matched.values()),
        unexpected=sum(n for key, n in seen.items() if key not in wanted),
    )


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
