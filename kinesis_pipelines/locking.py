"""The lock of a pipeline's operations: this host's file lock (cheap; two operations on one host
queue here without a round trip), then the lock in the control table (aws/oplock.py), which is
the authority across hosts and is renewed while held. Either one not had within the wait is an
OperationLockedError that names its holder."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kinesis_pipelines.aws import oplock
from kinesis_pipelines.errors import OperationLockedError

LOCK_WAIT_SECONDS = 120.0  # how long an operation waits for another's lock before it says who holds it


class Hold:
    """A held lock: `lost()` turns true if the control table's lock was taken away meanwhile."""

    def __init__(self, durable: oplock.OperationLock | None) -> None:
        self.durable = durable

    def lost(self) -> bool:
        return self.durable is not None and self.durable.lost.is_set()


@contextmanager
def hold(
    pipeline: str,
    root: Path,
    durable: oplock.OperationLock | None,
    operation: str,
    wait_seconds: float = LOCK_WAIT_SECONDS,
) -> Iterator[Hold]:
    deadline = time.monotonic() + wait_seconds
    with _local_lock(pipeline, root, operation, wait_seconds):
        end = None
        if durable is not None:
            end = oplock.held(durable, operation, max(0.0, deadline - time.monotonic()))
        try:
            yield Hold(durable)
        finally:
            if end is not None:
                end()


@contextmanager
def _local_lock(pipeline: str, root: Path, operation: str, wait_seconds: float) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".operation.lock", "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise OperationLockedError(
                        f"{pipeline}: another operation on this host holds the pipeline's lock ({holder}); "
                        f"waited {wait_seconds:.0f} s. Try again once it ends"
                    ) from None
                time.sleep(oplock.POLL_SECONDS)
        handle.truncate(0)
        handle.write(f"{operation} by process {os.getpid()} since {time.strftime('%H:%M:%S')}\n")
        handle.flush()
        yield
