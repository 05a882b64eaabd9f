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

A batch's keys count as delivered only once its output is published (or the batch is in the
dead-letter location): `admit` decides a batch when Spark generates it and holds its keys as
pending, so the batches generated after it in this process see them; `commit`, called by the sink
after the publish, writes them down. A batch that never completed admits nothing: a driver that
reads its records again (a new generation, a restart) delivers them.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from kinesis_pipelines.app.isolation import held_out
from kinesis_pipelines.app.python_workers import keep_zip_directories
from kinesis_pipelines.app.storage import JobFiles, LocalFiles, files_for, join

# Every task of the pipeline's batches runs a function of this module first (the intake), so a
# Python worker imports it before its second task: from then on its tasks skip re-reading the zips
# on its path (app/python_workers.py).
keep_zip_directories()

KEY_SEPARATOR = b"\n"
LEDGER_DIR_NAME = "delivery-ledger"  # beside the pipeline's checkpoint generations
LEDGER_SUFFIX = ".keys"
TOTALS_FILE = "totals.json"
POSITIONS_FILE = "delivered-positions.json"  # shard -> last sequence number of a published batch

# (partition, position within the partition, key) of one record in a batch
Located = tuple[int, int, str]


def split_keyed(element: bytes) -> tuple[str, bytes]:
    """A keyed element's key and the record's data. The header line is the key, then (from the
    assembly's `KeyedKinesisStreams`) the partition key and the arrival time, space-separated."""
    header, _, data = element.partition(KEY_SEPARATOR)
    return header.decode("ascii").split(" ", 1)[0], data


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
        self.pending: dict[int, tuple[list[str], int]] = {}  # decided, not yet published
        self.pending_dead_letters: dict[int, int] = {}
        self.pending_positions: dict[int, dict[str, str]] = {}
        self.admitted_total = 0
        self.dropped_total = 0
        self.dead_lettered_total = 0
        self.files.make_dirs(directory)
        for name in self.files.names(directory):
            if name.endswith(LEDGER_SUFFIX) and not name.startswith("."):
                keys = self.files.read_text(join(directory, name)) or ""
                self._remember(int(name.removesuffix(LEDGER_SUFFIX)), keys.split())
        totals = read_totals(directory, self.files)
        self.admitted_total, self.dropped_total = totals["admitted"], totals["dropped"]
        self.dead_lettered_total = totals["dead_lettered"]
        self._forget_old()

    def _batch_file(self, batch_ms: int) -> str:
        return join(self.directory, f"{batch_ms:015d}{LEDGER_SUFFIX}")

    def admit(self, batch_ms: int, located: Iterable[Located]) -> dict[int, set[int]]:
        """Decide a batch and return the positions to drop. Its admitted keys are pending until
        `commit`: later batches of this process see them, nothing on disk does."""
        drops, admitted = decide(batch_ms, located, self.first_seen)
        self.pending[batch_ms] = (admitted, sum(len(positions) for positions in drops.values()))
        if batch_ms not in self.batches:
            self._remember(batch_ms, admitted)
        return drops

    def note_positions(self, batch_ms: int, positions: dict[str, str]) -> None:
        """The last sequence number of each shard in a batch, recorded when it commits."""
        if positions:
            self.pending_positions[batch_ms] = positions

    def note_dead_letters(self, batch_ms: int, count: int) -> None:
        """Records of a batch written to the dead-letter location, counted when it commits."""
        self.pending_dead_letters[batch_ms] = self.pending_dead_letters.get(batch_ms, 0) + count

    def commit(self, batch_ms: int, dead_lettered: int = 0) -> None:
        """The batch's output is published (or dead-lettered): its keys now count as delivered."""
        admitted, dropped = self.pending.pop(batch_ms, ([], 0))
        dead_lettered += self.pending_dead_letters.pop(batch_ms, 0)
        positions = self.pending_positions.pop(batch_ms, {})
        if positions:
            delivered = read_positions(self.directory, self.files) or {}
            merged = {**delivered, **{s: later(delivered.get(s), n) for s, n in positions.items()}}
            if merged != delivered:
                self.files.write_text(
                    join(self.directory, POSITIONS_FILE), json.dumps(merged, sort_keys=True)
                )
        replay = batch_ms in self.batches and self.files.exists(self._batch_file(batch_ms))
        if admitted or dropped or replay:
            self.files.write_text(self._batch_file(batch_ms), "\n".join(admitted))
            self._remember(batch_ms, admitted)
            self._forget_old()
        if not replay and (admitted or dropped or dead_lettered):
            self.admitted_total += len(admitted)
            self.dropped_total += dropped
            self.dead_lettered_total += dead_lettered
            self.files.write_text(
                join(self.directory, TOTALS_FILE),
                json.dumps(
                    {
                        "admitted": self.admitted_total,
                        "dropped": self.dropped_total,
                        "dead_lettered": self.dead_lettered_total,
                    }
                ),
            )
        if dropped and not replay:
            print(
                f"delivery ledger: batch {batch_ms} dropped {dropped} record(s) already delivered "
                "(KCL read them again after a lease changed hands)",
                flush=True,
            )

    def _remember(self, batch_ms: int, keys: list[str]) -> None:
        for key in self.batches.pop(batch_ms, []):
            if self.first_seen.get(key) == batch_ms:
                del self.first_seen[key]
        self.batches[batch_ms] = keys
        for key in keys:
            if self.first_seen.get(key, batch_ms + 1) > batch_ms:
                self.first_seen[key] = batch_ms

    def _forget_old(self) -> None:
        committed = [batch_ms for batch_ms in sorted(self.batches) if batch_ms not in self.pending]
        for batch_ms in committed[: max(0, len(committed) - self.retained)]:
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
    """Records delivered, duplicates dropped and records dead-lettered so far (zeros before the
    first batch)."""
    text = (files or LocalFiles()).read_text(join(directory, TOTALS_FILE))
    saved = json.loads(text) if text else {}
    return {name: saved.get(name, 0) for name in ("admitted", "dropped", "dead_lettered")}


def read_positions(directory: str, files: JobFiles | None = None) -> dict[str, str] | None:
    """Per shard, the last sequence number of a published batch; None before the first one."""
    text = (files or LocalFiles()).read_text(join(directory, POSITIONS_FILE))
    return dict(json.loads(text)) if text else None


def later(a: str | None, b: str) -> str:
    """The later of two sequence numbers (decimal strings of up to 128 bits)."""
    return b if a is None or int(b) > int(a) else a


def shard_positions(rdd: Any) -> dict[str, str]:
    """The last sequence number of each shard in a batch's RDD, from the receivers' block ranges
    (`ShardPositions` in the assembly); {} when the RDD has none (a receiver without ranges)."""
    try:
        found = rdd.context._jvm.io.kinesispipelines.spark.ShardPositions.of(rdd._jrdd.rdd())
    except Exception as exc:  # an assembly without the helper: say so once, deliver anyway
        if not _WARNED:
            _WARNED.append(True)
            print(f"delivery ledger: shard positions unavailable ({type(exc).__name__}: {exc})", flush=True)
        return {}
    return {str(shard): str(number) for shard, number in dict(found).items()}


_WARNED: list[bool] = []


def locate_keys(partition: int, elements: Iterator[bytes]) -> Iterator[Located]:
    for position, element in enumerate(elements):
        yield partition, position, split_keyed(element)[0]


def keep_elements(
    drops: Mapping[int, set[int]], partition: int, elements: Iterator[bytes]
) -> Iterator[bytes]:
    """The partition's elements, less the positions the ledger dropped; keys kept for the dead
    letters that may need them."""
    dropped = drops.get(partition, set())
    for position, element in enumerate(elements):
        if position not in dropped:
            yield element


def keep_admitted(
    drops: Mapping[int, set[int]], batch_ms: int, partition: int, elements: Iterator[bytes]
) -> Iterator[bytes]:
    """`keep_elements`, less the positions held out of the batch while the sink takes apart a
    batch the processor failed on (app/isolation.py); read when the task runs."""
    skipped = drops.get(partition, set()) | held_out(batch_ms).get(partition, frozenset())
    for position, element in enumerate(elements):
        if position not in skipped:
            yield element


def select_positions(
    wanted: Mapping[int, Mapping[int, str]], partition: int, elements: Iterator[bytes]
) -> Iterator[tuple[bytes, str]]:
    """The elements at `wanted` positions of each partition, with what `wanted` says of each."""
    chosen = wanted.get(partition, {})
    if chosen:
        for position, element in enumerate(elements):
            if position in chosen:
                yield element, chosen[position]


def strip_keys(elements: Iterable[bytes]) -> Iterator[bytes]:
    for element in elements:
        yield split_keyed(element)[1]


# Each batch's input after the ledger's drops, by batch time, for the sink: a batch whose processing
# keeps failing is dead-lettered whole from it. Driver-side and in memory: a restarted driver
# generates its batches again, which fills it again.
@dataclass(frozen=True)
class BatchInput:
    """A batch's input as its receivers gave it, and the positions the ledger dropped from it."""

    received: Any  # the RDD
    drops: Mapping[int, set[int]]

    def admitted(self) -> Any:
        """The records the processor was given (no quarantine: what a failed batch dead-letters)."""
        return self.received.mapPartitionsWithIndex(partial(keep_elements, self.drops))


_BATCH_INPUTS: dict[int, Any] = {}
_BATCH_INPUTS_KEPT = 1000


def batch_input(batch_ms: int) -> BatchInput | Any | None:
    """The input of a batch this driver generated (None if it did not): a BatchInput, or the
    admitted records' RDD when an older intake, pickled in the checkpoint, generated it."""
    return _BATCH_INPUTS.get(batch_ms)


def remember_batch_input(batch_ms: int, rdd: BatchInput | Any) -> None:
    """Called where the batch is generated. A function, not the dict itself, is what the pickled
    transform refers to: the dict holds RDDs, which cannot be pickled into a checkpoint."""
    _BATCH_INPUTS[batch_ms] = rdd
    for old in sorted(_BATCH_INPUTS)[: max(0, len(_BATCH_INPUTS) - _BATCH_INPUTS_KEPT)]:
        del _BATCH_INPUTS[old]


# Batches this driver recovered (generated for a time before it started): Spark reads their
# input again from Kinesis block by block, once for each action on it (the ledger's keys, the
# undecodable records, the publish and each of its attempts, the dead letters), and each block read
# is a GetRecords call against the shard's 5 a second. So a recovered batch's input is kept (memory,
# then disk) from its first read until the sink is done with it: one read from Kinesis per block.
STARTED_MS = time.time() * 1000
_RECOVERED_INPUTS: dict[int, Any] = {}


def keep_if_recovered(batch_ms: int, rdd: Any) -> Any:
    """Persist a recovered batch's input (see _RECOVERED_INPUTS); a live batch's blocks are already
    in the block manager."""
    if batch_ms >= STARTED_MS:
        return rdd
    from pyspark import StorageLevel

    _RECOVERED_INPUTS[batch_ms] = rdd.persist(StorageLevel.MEMORY_AND_DISK)
    return rdd


def release_batch_input(batch_ms: int) -> None:
    """The sink is done with a batch: drop its kept input (if it was recovered)."""
    kept = _RECOVERED_INPUTS.pop(batch_ms, None)
    if kept is not None:
        kept.unpersist()


LEDGER_POOL = "kinesis-pipelines-ledger"


def in_ledger_pool(context: Any, job: Callable[[], Any]) -> Any:
    """Run `job` (the ledger's read of a batch's keys, while Spark creates the batch) in a
    scheduler pool of its own: with spark.scheduler.mode FAIR (set by the submit), its tasks take
    the next free core instead of queueing behind every task of the batches being processed, so
    batch creation does not wait for them (a batch holds the blocks received until it is created)."""
    context.setLocalProperty("spark.scheduler.pool", LEDGER_POOL)
    try:
        return job()
    finally:
        context.setLocalProperty("spark.scheduler.pool", None)


def intake_transform(directory: str, retained: int) -> Callable[[Any, Any], Any]:
    """The `transform` function that drops records already delivered (`retained` 0: none) and
    remembers each batch's input. A plain closure over plain values, because pyspark pickles it
    into the Spark checkpoint with the DStream graph."""

    def intake(batch_time: Any, rdd: Any) -> Any:
        batch_ms = round(batch_time.timestamp() * 1000)
        rdd = keep_if_recovered(batch_ms, rdd)
        ledger_at(directory, retained).note_positions(batch_ms, shard_positions(rdd))
        drops: Mapping[int, set[int]] = {}
        if retained > 0:
            located = in_ledger_pool(rdd.context, lambda: rdd.mapPartitionsWithIndex(locate_keys).collect())
            drops = ledger_at(directory, retained).admit(batch_ms, located)
        remember_batch_input(batch_ms, BatchInput(rdd, drops))
        return rdd.mapPartitionsWithIndex(partial(keep_admitted, drops, batch_ms))

    return intake
