"""The directory sink: each batch replaces `batch-<batch time ms>`, so a replayed batch (after a
driver restart from its checkpoint) replaces its earlier output instead of adding a second copy.

Batches are written and published through Hadoop's FileSystem API in the driver's JVM (the one
Spark writes with), so the sink may be a folder of the driver's host, HDFS, S3 or a shared mount.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from kinesis_pipelines.app.storage import HadoopFiles, JobFiles, LocalFiles, is_uri, join

BATCH_PREFIX = "batch-"


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
    final = batch_dir(root, batch_time_ms)
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


def directory_sink_writer(path: str) -> Callable[[Any, Any], None]:
    """The `foreachRDD` function for a directory sink. A plain closure, because pyspark inspects
    its arguments and pickles it into the Spark checkpoint with the DStream graph."""

    def write_batch(batch_time: Any, rdd: Any) -> None:
        if rdd.isEmpty():
            return  # nothing to publish; a replay of this batch time is empty too
        root = path if is_uri(path) else Path(path).absolute().as_uri()
        context = rdd.context
        files = HadoopFiles(context._jvm, context._jsc.hadoopConfiguration())
        files.make_dirs(root)
        batch_ms = round(batch_time.timestamp() * 1000)
        staged = join(root, f"_staging-{batch_ms}-{uuid.uuid4().hex}")
        rdd.map(to_line).saveAsTextFile(staged)
        publish_batch(files, root, batch_ms, staged)

    return write_batch


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
