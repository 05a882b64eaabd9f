"""The directory sink: each batch replaces `batch-<batch time ms>`, so a replayed batch (after a driver
restart from its checkpoint) replaces its earlier output instead of adding a second copy.

Batches are written and published through Hadoop's FileSystem API in the driver's JVM (the one Spark
writes with), so the sink may be a folder of the driver's host, HDFS, S3 or a shared mount.

A batch's output goes through `sink_writer`: published, or (when the processor keeps failing on it)
published without the records that fail on their own, which are dead-lettered; only then does the
delivery ledger count its records as delivered. Records that cannot be decoded go to the dead-letter
location through `undecodable_writer` (app/dead_letters.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from kinesis_pipelines.app import dead_letters, delivery, isolation
from kinesis_pipelines.app.fencing import FenceLost, publishing_token
from kinesis_pipelines.app.storage import HadoopFiles, JobFiles, LocalFiles, is_uri, join

BATCH_PREFIX = "batch-"
TOKEN_FILE = "_FENCE_TOKEN"  # the fencing token a batch was published under ("_": readers skip it)


def to_line(element: Any) -> str:
    if isinstance(element, str):
        return element
    if isinstance(element, tuple):
        element = list(element)
    return json.dumps(element, default=str, sort_keys=True)


def batch_dir(root: str, batch_time_ms: int) -> str:
    return join(root, f"{BATCH_PREFIX}{batch_time_ms:015d}")


def publish_batch(files: JobFiles, root: str, batch_time_ms: int, staged: str) -> str:
    """Make `staged` the output of this batch time, replacing any earlier output."""
    return publish_dir(files, batch_dir(root, batch_time_ms), staged)


def publish_dir(files: JobFiles, final: str, staged: str, token: int | None = None) -> str:
    """Make `staged` the directory `final`, replacing an earlier one (a replay's). Under a fence,
    `token` goes with the output, and output a newer holder published is never replaced: a driver
    that was deposed cannot overwrite its successor's batch."""
    root = final.rsplit("/", 1)[0]
    if token is not None:
        files.write_text(join(staged, TOKEN_FILE), str(token))
        published = files.read_text(join(final, TOKEN_FILE))
        if published is not None and published.strip().isdigit() and int(published) > token:
            files.remove(staged)
            raise FenceLost(
                f"{final} was published under fence token {published.strip()}, newer than this "
                f"driver's {token}: not replacing it"
            )
    if files.exists(final):
        trash = join(root, f"_replaced-{final.rsplit('/', 1)[-1]}-{uuid.uuid4().hex}")
        files.rename(final, trash)
        files.rename(staged, final)
        files.remove(trash)
    else:
        files.rename(staged, final)
    return final


def write_lines_batch(root: Path, batch_time_ms: int, lines: Iterable[str]) -> str:
    """Write one batch of a local folder from the driver's side (small outputs and tests)."""
    files = LocalFiles()
    root.mkdir(parents=True, exist_ok=True)
    staged = root / f"_staging-{batch_time_ms}-{uuid.uuid4().hex}"
    staged.mkdir()
    (staged / "part-00000").write_text("".join(line + "\n" for line in lines))
    return publish_batch(files, str(root), batch_time_ms, str(staged))


@dataclass(frozen=True)
class BatchOutput:
    """Where a batch's output, dead letters and delivery record go. Plain values: pyspark pickles
    the writers that hold it into the Spark checkpoint."""

    pipeline: str
    stream: str
    sink_path: str
    dead_letter_path: str
    ledger_dir: str
    retained_batches: int  # the ledger's window in batches; 0: no deduplication
    policy: Literal["dead_letter", "fail"] = "dead_letter"
    batch_attempts: int = 3


def _root_uri(path: str) -> str:
    return path if is_uri(path) else Path(path).absolute().as_uri()


def _files_of(rdd: Any) -> HadoopFiles:
    context = rdd.context
    return HadoopFiles(context._jvm, context._jsc.hadoopConfiguration())


def save_lines(lines: Any, root: str, name: str, *, unless_empty: bool = False) -> str | None:
    """Write an RDD of lines as the directory `root/name`, staged first and then renamed into
    place (replacing an earlier one); a failed write leaves no staging behind. With
    `unless_empty`, output of no lines is not published (None).

    Emptiness is counted while the lines are written, not asked first: `rdd.isEmpty()` reads one
    line and stops, and a pyspark worker whose input is left unread is not reused, so asking
    cost a new Python worker (and its imports) for every batch."""
    root = _root_uri(root)
    files = _files_of(lines)
    files.make_dirs(root)
    staged = join(root, f"_staging-{name}-{uuid.uuid4().hex}")
    written = lines.context.accumulator(0) if unless_empty else None
    try:
        (lines if written is None else lines.mapPartitions(partial(_counted, written))).saveAsTextFile(staged)
    except BaseException:
        files.remove(staged)
        raise
    if written is not None and written.value == 0:
        files.remove(staged)
        return None
    return publish_dir(files, join(root, name), staged, publishing_token())


def _counted(counter: Any, lines: Iterator[str]) -> Iterator[str]:
    count = 0
    for line in lines:
        count += 1
        yield line
    counter.add(count)


def undecodable_writer(output: BatchOutput) -> Callable[[Any, Any], None]:
    """The `foreachRDD` function over a batch's input that dead-letters its undecodable records."""

    def write_undecodable(batch_time: Any, rdd: Any) -> None:
        batch_ms = round(batch_time.timestamp() * 1000)
        lines = rdd.mapPartitions(
            partial(dead_letters.undecodable_lines, output.pipeline, output.stream, batch_ms)
        ).cache()
        try:
            count = lines.count()
            if count:
                name = f"{dead_letters.RECORDS_PREFIX}{batch_ms:015d}"
                save_lines(lines, output.dead_letter_path, name)
                print(f"dead letters: batch {batch_ms} had {count} record(s) that are not UTF-8", flush=True)
                delivery.ledger_at(output.ledger_dir, output.retained_batches).note_dead_letters(
                    batch_ms, count
                )
        finally:
            lines.unpersist()

    return write_undecodable


def sink_writer(output: BatchOutput) -> Callable[[Any, Any], None]:
    """The `foreachRDD` function over the processor's output: publish the batch (trying it up to
    `batch_attempts` times), else publish it without the records that fail on their own and
    dead-letter those (`salvage_batch`); then the ledger counts its records as delivered. A plain
    closure: pyspark pickles it into the checkpoint."""

    def write_batch(batch_time: Any, rdd: Any) -> None:
        batch_ms = round(batch_time.timestamp() * 1000)
        failure: BaseException | None = None
        for attempt in range(1, output.batch_attempts + 1):
            try:
                if rdd.getNumPartitions():  # an empty batch publishes nothing; its replay is empty too
                    name = f"{BATCH_PREFIX}{batch_ms:015d}"
                    save_lines(rdd.map(to_line), output.sink_path, name, unless_empty=True)
                failure = None
                break
            except FenceLost:
                raise  # deposed: publish nothing, dead-letter nothing; the driver is stopping
            except Exception as exc:  # a processor's error reaches the driver as a Py4JJavaError
                failure = exc
                if output.policy == "fail":
                    raise
                print(
                    f"batch {batch_ms}: attempt {attempt} of {output.batch_attempts} failed: "
                    f"{dead_letters.error_summary(exc)}",
                    flush=True,
                )
        dead = 0 if failure is None else salvage_batch(output, batch_ms, rdd, failure)
        ledger = delivery.ledger_at(output.ledger_dir, output.retained_batches)
        ledger.commit(batch_ms, dead_lettered=dead)
        delivery.release_batch_input(batch_ms)

    return write_batch


def aligned_with(rdd: Any, source: Any) -> bool:
    """Whether each partition of `rdd` (the processor's output) is computed from the partition of
    `source` (the batch's input) with the same index alone: the same number of partitions, and
    only one-to-one dependencies (map, filter, flatMap, mapPartitions: what most processors do)
    below it, down to the receivers' blocks (which a union of receivers ranges over). A shuffle, a
    coalesce or a join inside the processor is not."""
    if rdd.getNumPartitions() != source.getNumPartitions():
        return False
    pending = [rdd._jrdd.rdd()]
    while pending:
        dependencies = pending.pop().dependencies()
        for index in range(dependencies.size()):
            dependency = dependencies.apply(index)
            if dependency.getClass().getSimpleName() not in ("OneToOneDependency", "RangeDependency"):
                return False
            pending.append(dependency.rdd())
    return True


def salvage_batch(output: BatchOutput, batch_ms: int, rdd: Any, failure: BaseException) -> int:
    """A batch the processor failed on `batch_attempts` times. When its output partitions trace to
    input partitions, the records that fail on their own are found (app/isolation.py) and held
    out, the rest of the batch is published, and those records are dead-lettered with their error:
    a bad record costs itself. Otherwise (a shuffle in the processor; more than
    `isolation.ISOLATED_MOST` bad records, which is a broken processor more often than bad data),
    or when the publish still fails, the batch's input is dead-lettered whole. Returns the
    records dead-lettered."""
    batch = delivery.batch_input(batch_ms)
    reason = f"processing failed {output.batch_attempts} times: {dead_letters.error_summary(failure)}"
    if batch is None:  # cannot happen in a driver that generated the batch; say so if it does
        raise RuntimeError(f"batch {batch_ms} failed and its input is not known: {reason}") from failure
    if not isinstance(batch, delivery.BatchInput):  # generated by an older intake: no positions
        return dead_letter_whole(output, batch_ms, batch, reason)
    if not aligned_with(rdd, batch.received):
        return dead_letter_whole(output, batch_ms, batch.admitted(), reason)
    context, lines = rdd.context, rdd.map(to_line)
    try:
        bad, runs = _bad_records(output, batch_ms, batch, lines, reason)
        if bad is None:
            return dead_letter_whole(output, batch_ms, batch.admitted(), reason)
        isolation.hold_out(context, batch_ms, {partition: set(held) for partition, held in bad.items()})
        try:
            save_lines(lines, output.sink_path, f"{BATCH_PREFIX}{batch_ms:015d}")
        except FenceLost:
            raise
        except Exception as exc:  # the rest fails too (a processor that fails on its own state): all out
            isolation.hold_out(context, batch_ms, {})
            print(
                f"batch {batch_ms}: failed again without its bad records: {dead_letters.error_summary(exc)}"
            )
            return dead_letter_whole(output, batch_ms, batch.admitted(), reason)
        held = sum(len(positions) for positions in bad.values())
        print(
            f"batch {batch_ms}: published without {held} record(s) that fail on their own ({runs} runs)",
            flush=True,
        )
        return dead_letter_held(output, batch_ms, batch.received, bad) if held else 0
    finally:  # the next job of this thread (the next batch's) holds nothing out
        isolation.hold_out(context, batch_ms, {})


Position = tuple[int, int]  # (partition, position within it) of a record in a batch's input


def _bad_records(
    output: BatchOutput, batch_ms: int, batch: delivery.BatchInput, lines: Any, reason: str
) -> tuple[dict[int, dict[int, str]] | None, int]:
    """The positions of the batch's records that fail on their own (or that could not be
    separated), partition to position to reason, and the runs spent; None when more than
    `isolation.ISOLATED_MOST` do."""
    sizes = batch.received.mapPartitions(_count).collect()
    candidates: dict[int, set[int]] = {
        partition: set(range(size)) - batch.drops.get(partition, set())
        for partition, size in enumerate(sizes)
    }
    ordered = [
        (partition, position)
        for partition in sorted(candidates)
        for position in sorted(candidates[partition])
    ]
    errors: dict[Position, str] = {}

    def fails(group: Sequence[Position]) -> bool:
        failed = _error_of(lines, batch_ms, candidates, group)
        if failed is not None and len(group) == 1:
            errors[group[0]] = failed
        return failed is not None

    budget = isolation.isolation_budget(len(ordered))
    found, runs = isolation.isolate(ordered, fails, budget, isolation.ISOLATED_MOST)
    if len(found) > isolation.ISOLATED_MOST:
        print(
            f"batch {batch_ms}: more than {isolation.ISOLATED_MOST} of its {len(ordered)} record(s) fail "
            f"({runs} runs): the processor fails on the batch, not on a few records",
            flush=True,
        )
        return None, runs
    alone = f"processing failed {output.batch_attempts} times; held apart, it fails on its own: "
    together = (
        f"{reason}; not separated from the other records dead-lettered with it ({len(found)}) "
        f"within {runs} runs"
    )
    bad: dict[int, dict[int, str]] = {}
    for position in found:
        bad.setdefault(position[0], {})[position[1]] = (
            alone + errors[position] if position in errors else together
        )
    return bad, runs


def _error_of(
    lines: Any, batch_ms: int, candidates: dict[int, set[int]], group: Sequence[Position]
) -> str | None:
    """Run the records of `group` alone (one job over the partitions they are in, the rest of
    those partitions held out): its error, or None when it succeeds."""
    kept: dict[int, set[int]] = {}
    for partition, position in group:
        kept.setdefault(partition, set()).add(position)
    held = {partition: candidates[partition] - chosen for partition, chosen in kept.items()}
    isolation.hold_out(lines.context, batch_ms, {p: positions for p, positions in held.items() if positions})
    try:
        lines.context.runJob(lines, _count, sorted(kept))
    except Exception as exc:
        return dead_letters.error_summary(exc)
    return None


def _count(elements: Iterator[Any]) -> list[int]:
    return [sum(1 for _ in elements)]


def dead_letter_whole(output: BatchOutput, batch_ms: int, admitted: Any, reason: str) -> int:
    """Write a failed batch's whole input (the records the processor was given) to the dead-letter
    location; the number of records."""
    lines = admitted.mapPartitions(
        partial(dead_letters.failed_batch_lines, output.pipeline, output.stream, batch_ms, reason)
    )
    return _save_dead_letters(output, batch_ms, lines, f"whole: {reason}")


def dead_letter_held(
    output: BatchOutput, batch_ms: int, received: Any, reasons: dict[int, dict[int, str]]
) -> int:
    """Write the records at `reasons`' positions of a batch's input (partition to position to
    reason) to the dead-letter location; the number of records."""
    lines = received.mapPartitionsWithIndex(partial(delivery.select_positions, reasons)).mapPartitions(
        partial(_held_lines, output.pipeline, output.stream, batch_ms)
    )
    return _save_dead_letters(output, batch_ms, lines, "the records that fail on their own")


def _held_lines(
    pipeline: str, stream: str, batch_ms: int, held: Iterator[tuple[bytes, str]]
) -> Iterator[str]:
    for element, reason in held:
        yield from dead_letters.failed_batch_lines(pipeline, stream, batch_ms, reason, iter([element]))


def _save_dead_letters(output: BatchOutput, batch_ms: int, lines: Any, what: str) -> int:
    lines = lines.cache()
    try:
        count = lines.count()
        save_lines(lines, output.dead_letter_path, f"{dead_letters.FAILED_BATCH_PREFIX}{batch_ms:015d}")
    finally:
        lines.unpersist()
    print(f"dead letters: batch {batch_ms}: {count} record(s) written ({what})", flush=True)
    return count


def read_output(root: str | Path, files: JobFiles | None = None) -> Iterator[str]:
    """Every line of every published batch, in batch order."""
    files = files or LocalFiles()
    for batch in files.names(str(root)):
        if not batch.startswith(BATCH_PREFIX):
            continue
        directory = join(str(root), batch)
        for part in files.names(directory):
            if part.startswith("part-"):
                yield from (files.read_text(join(directory, part)) or "").splitlines()
