"""The directory sink: each batch replaces `batch-<batch time ms>`, so a replayed batch (after a
driver restart from its checkpoint) replaces its earlier output instead of adding a second copy.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

BATCH_PREFIX = "batch-"


def to_line(element: Any) -> str:
    if isinstance(element, str):
        return element
    if isinstance(element, tuple):
        element = list(element)
    return json.dumps(element, default=str, sort_keys=True)


def batch_dir(root: Path, batch_time_ms: int) -> Path:
    return root / f"{BATCH_PREFIX}{batch_time_ms:015d}"


def publish_batch(root: Path, batch_time_ms: int, staged: Path) -> Path:
    """Atomically make `staged` the output of this batch time, replacing any earlier output."""
    final = batch_dir(root, batch_time_ms)
    if final.exists():
        trash = root / f"_replaced-{final.name}-{uuid.uuid4().hex}"
        os.rename(final, trash)
        os.rename(staged, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(staged, final)
    return final


def write_lines_batch(root: Path, batch_time_ms: int, lines: Iterable[str]) -> Path:
    """Write one batch from the driver's side (small outputs and tests)."""
    root.mkdir(parents=True, exist_ok=True)
    staged = root / f"_staging-{batch_time_ms}-{uuid.uuid4().hex}"
    staged.mkdir()
    with open(staged / "part-00000", "w") as handle:
        for line in lines:
            handle.write(line + "\n")
    return publish_batch(root, batch_time_ms, staged)


def directory_sink_writer(path: str) -> Callable[[Any, Any], None]:
    """The `foreachRDD` function for a directory sink. A plain closure, because pyspark inspects
    its arguments and pickles it into the Spark checkpoint with the DStream graph."""

    def write_batch(batch_time: Any, rdd: Any) -> None:
        if rdd.isEmpty():
            return  # nothing to publish; a replay of this batch time is empty too
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        batch_ms = round(batch_time.timestamp() * 1000)
        staged = root / f"_staging-{batch_ms}-{uuid.uuid4().hex}"
        rdd.map(to_line).saveAsTextFile(staged.as_uri())
        publish_batch(root, batch_ms, staged)

    return write_batch


def read_output(root: Path) -> Iterator[str]:
    """Every line of every published batch, in batch order."""
    if not root.exists():
        return
    for directory in sorted(root.glob(f"{BATCH_PREFIX}*")):
        for part in sorted(directory.glob("part-*")):
            with open(part) as handle:
                for line in handle:
                    yield line.rstrip("\n")
