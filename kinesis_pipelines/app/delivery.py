"""Each record once: the delivery ledger drops records that KCL reads a second time.

KCL 1 re-reads a shard from its last checkpoint whenever a lease changes hands: when a second
receiver takes its share of the leases from the first one up (seconds after every start), and
when a restarted driver takes over from a killed one. The receivers' elements carry each record's
key (`KeyedKinesisStreams` in the assembly: sequence number and partition key hash), and before
the user's processor sees a batch, the ledger drops every record whose key an earlier batch
already admitted, and every second copy within the batch.

The decision for a batch depends only on the batches before it. A batch that Spark generates again
after a driver restart (from its checkpoint and write-ahead log) holds the same records and gets
the same decision, so the idempotent sink replaces its output with the same lines. The ledger keeps
the keys of the last `retained_batches` non-empty batches in memory and in one small file per
batch, so a restarted driver remembers what its predecessor delivered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any

from kinesis_pipelines.app.storage import JobFiles, LocalFiles, files_for, join

KEY_SEPARATOR = b"\n"
LEDGER_DIR_NAME = "delivery-ledger"  # beside the pipeline's checkpoint generations
LEDGER_SUFFIX = ".keys"
TOTALS_FILE = "totals.json"

# (partition, position within the partition, key) of one record in a batch
Located = tuple[int, int, str]


def split_keyed(element: bytes) -> tuple[str, bytes]:
    """A keyed element's key and the record's data."""
    key, _, data = element.partition(KEY_SEPARATOR)
    return key.decode("ascii"), data


def retained_batches(window_seconds: float, batch_interval_seconds: float) -> int:
    """How many non-empty batches the ledger keeps: the window, in batches."""
    return max(1, math.ceil(window_seconds / batch_interval_seconds))


def decide(
    batch_ms: int, located: Iterable[Located], first_seen: Mapping[str, int]
) -> tuple[dict[int, set[int]], list[str]]:
    """Which records of a batch to drop (positions per partition) and which keys it admits.

    Pure. A record is dropped when an earlier batch admitted its key, or when it is a second copy
    within this batch (the first copy in partition and position order is kept)."""
    drops: dict[int, set[int]] = {}
    admitted: list[str] = []
    admitted_here: set[str] = set()
    for partition, position, key in sorted(located):
        earlier = first_seen.get(key)
        if (earlier is not None and earlier < batch_ms) or key in admitted_here:
            drops.setdefault(partition, set()).add(position)
        else:
            admitted_here.add(key)
            admitted.append(key)
    return drops, admitted


class DeliveryLedger:
    """The keys delivered in the last `retained` non-empty batches, on disk and in memory."""

    def __init__(self, directory: str, retained: int, files: JobFiles | None = None) -> None:
        self.directory, self.retained = directory, retained
        self.files = files or files_for(directory)
        self.first_seen: dict[str, int] = {}
        self.batches: dict[int, list[str]] = {}
        self.admitted_total = 0
        self.dropped_total = 0
        self.files.make_dirs(directory)
        for name in self.files.names(directory):
            if name.endswith(LEDGER_SUFFIX) and not name.startswith("."):
                keys = self.files.read_text(join(directory, name)) or ""
                self._remember(int(name.removesuffix(LEDGER_SUFFIX)), keys.split())
        self.admitted_total, self.dropped_total = read_totals(directory, self.files).values()
        self._forget_old()

    def _batch_file(self, batch_ms: int) -> str:
        return join(self.directory, f"{batch_ms:015d}{LEDGER_SUFFIX}")

    def admit(self, batch_ms: int, located: Iterable[Located]) -> dict[int, set[int]]:
        """Decide a batch, record what it admits, and return the positions to drop."""
        drops, admitted = decide(batch_ms, located, self.first_seen)
        dropped = sum(len(positions) for positions in drops.values())
        replay = batch_ms in self.batches
        if admitted or drops or replay:
            self.files.write_text(self._batch_file(batch_ms), "\n".join(admitted))
            self._remember(batch_ms, admitted)
            self._forget_old()
        if not replay:
            self.admitted_total += len(admitted)
            self.dropped_total += dropped
            self.files.write_text(
                join(self.directory, TOTALS_FILE),
                json.dumps({"admitted": self.admitted_total, "dropped": self.dropped_total}),
            )
        if dropped:
            print(
                f"delivery ledger: batch {batch_ms} dropped {dropped} record(s) already delivered "
                "(KCL read them again after a lease changed hands)",
                flush=True,
            )
        return drops

    def _remember(self, batch_ms: int, keys: list[str]) -> None:
        for key in self.batches.pop(batch_ms, []):
            if self.first_seen.get(key) == batch_ms:
                del self.first_seen[key]
        self.batches[batch_ms] = keys
        for key in keys:
            if self.first_seen.get(key, batch_ms + 1) > batch_ms:
                self.first_seen[key] = batch_ms

    def _forget_old(self) -> None:
        for batch_ms in sorted(self.batches)[: max(0, len(self.batches) - self.retained)]:
            for key in self.batches.pop(batch_ms):
                if self.first_seen.get(key) == batch_ms:
                    del self.first_seen[key]
            self.files.remove(self._batch_file(batch_ms))


_LEDGERS: dict[str, DeliveryLedger] = {}


def ledger_at(directory: str, retained: int) -> DeliveryLedger:
    """The driver's one ledger for `directory`, loaded from disk on first use in this process."""
    if directory not in _LEDGERS:
        _LEDGERS[directory] = DeliveryLedger(directory, retained)
    return _LEDGERS[directory]


def read_totals(directory: str, files: JobFiles | None = None) -> dict[str, int]:
    """Records admitted and duplicates dropped so far (zeros before the first batch)."""
    text = (files or LocalFiles()).read_text(join(directory, TOTALS_FILE))
    saved = json.loads(text) if text else {}
    return {"admitted": saved.get("admitted", 0), "dropped": saved.get("dropped", 0)}


def locate_keys(partition: int, elements: Iterator[bytes]) -> Iterator[Located]:
    for position, element in enumerate(elements):
        yield partition, position, split_keyed(element)[0]


def keep_data(drops: Mapping[int, set[int]], partition: int, elements: Iterator[bytes]) -> Iterator[bytes]:
    dropped = drops.get(partition, set())
    for position, element in enumerate(elements):
        if position not in dropped:
            yield split_keyed(element)[1]


def strip_keys(elements: Iterable[bytes]) -> Iterator[bytes]:
    for element in elements:
        yield split_keyed(element)[1]


def dedupe_transform(directory: str, retained: int) -> Callable[[Any, Any], Any]:
    """The `transform` function that drops records already delivered. A plain closure over two
    plain values, because pyspark pickles it into the Spark checkpoint with the DStream graph."""

    def dedupe(batch_time: Any, rdd: Any) -> Any:
        batch_ms = round(batch_time.timestamp() * 1000)
        located = rdd.mapPartitionsWithIndex(locate_keys).collect()
        drops = ledger_at(directory, retained).admit(batch_ms, located)
        return rdd.mapPartitionsWithIndex(partial(keep_data, drops))

    return dedupe
