"""The directory sink: each batch replaces `batch-<batch time ms>`, so a replayed batch (after a
driver restart from its checkpoint) replaces its earlier output instead of adding a second copy.

Batches are written and published through Hadoop's FileSystem API in the driver's JVM (the one
Spark writes with), so the sink may be a folder of the driver's host, HDFS, S3 or a shared mount.

A batch's output goes through `sink_writer`: published, or (when the processor keeps failing on it)
its input dead-lettered whole; only then does the delivery ledger count its records as delivered.
Records that cannot be decoded go to the dead-letter location through `undecodable_writer`
(app/dead_letters.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from kinesis_pipelines.app import dead_letters, delivery
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


def save_lines(lines: Any, root: str, name: str) -> str:
    """Write an RDD of lines as the directory `root/name`, staged first and then renamed into
    place (replacing an earlier one); a failed write leaves no staging behind."""
    root = _root_uri(root)
    files = _files_of(lines)
    files.make_dirs(root)
    staged = join(root, f"_staging-{name}-{uuid.uuid4().hex}")
    try:
        lines.saveAsTextFile(staged)
    except BaseException:
        files.remove(staged)
        raise
    return publish_dir(files, join(root, name), staged, publishing_token())


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
    `batch_attempts` times), else dead-letter its input whole with the error; then the ledger
    counts its records as delivered. A plain closure: pyspark pickles it into the checkpoint."""

    def write_batch(batch_time: Any, rdd: Any) -> None:
        batch_ms = round(batch_time.timestamp() * 1000)
        failure: BaseException | None = None
        for attempt in range(1, output.batch_attempts + 1):
            try:
                if not rdd.isEmpty():  # an empty batch publishes nothing; its replay is empty too
                    save_lines(rdd.map(to_line), output.sink_path, f"{BATCH_PREFIX}{batch_ms:015d}")
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
        dead = 0 if failure is None else dead_letter_batch(output, batch_ms, failure)
        ledger = delivery.ledger_at(output.ledger_dir, output.retained_batches)
        ledger.commit(batch_ms, dead_lettered=dead)
        delivery.release_batch_input(batch_ms)

    return write_batch


def dead_letter_batch(output: BatchOutput, batch_ms: int, failure: BaseException) -> int:
    """Write a failed batch's input to the dead-letter location; the number of records."""
    source = delivery.batch_input(batch_ms)
    reason = f"processing failed {output.batch_attempts} times: {dead_letters.error_summary(failure)}"
    if source is None:  # cannot happen in a driver that generated the batch; say so if it does
        raise RuntimeError(f"batch {batch_ms} failed and its input is not known: {reason}") from failure
    lines = source.mapPartitions(
        partial(dead_letters.failed_batch_lines, output.pipeline, output.stream, batch_ms, reason)
    ).cache()
    try:
        count = lines.count()
        save_lines(lines, output.dead_letter_path, f"{dead_letters.FAILED_BATCH_PREFIX}{batch_ms:015d}")
    finally:
        lines.unpersist()
    print(f"dead letters: batch {batch_ms} written whole ({count} record(s)): {reason}", flush=True)
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
