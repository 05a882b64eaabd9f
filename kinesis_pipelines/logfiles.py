"""A process's log on this host, kept to a size: written by a rotator, read back across rotations.

The writer. `python -I -S logfiles.py --path LOG --max-bytes N --backups K` copies what it reads
on its standard input (the write end of a pipe that a driver's whole process group writes to) into
LOG through the standard library's `RotatingFileHandler`: when LOG would pass N bytes it becomes
LOG.1 (LOG.1 becomes LOG.2, ... up to LOG.K; older ones are deleted) and a new LOG begins. Every
file stays within N bytes; a line written whole goes whole into one file (only a line longer than N
is cut, or one that arrives in parts may be). It runs in a session of its own (the orchestrator
may exit; the rotator goes on), ignores the signals that stop a driver's group, and exits when
every writer has closed the pipe. It runs from its file with only the standard library, so it
costs about 15 MB of memory and no import of this package.

The readers. `LogFile.tail` returns the end of the log across the rotated files; `LogFile.new`
returns what was written since the last read, by file offset: when the file it reads is rotated
away it finishes that file, reads any rotated file written after it, then continues from the start
of the new LOG; a file truncated in place is read again from its start. `TailFollower` follows a
log that only offers its end (a cluster's container log) by matching what it printed before.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import BinaryIO

CHUNK = 65536
ENCODING = "utf-8"
ERRORS = "surrogateescape"  # bytes that are not UTF-8 go through unchanged


class _SizeCappedHandler(RotatingFileHandler):
    """Rolls over before a record would take the file past `maxBytes`, counting bytes (the
    standard handler counts characters and rolls at the limit, not past it)."""

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        size = self.stream.tell()
        return size > 0 and size + len(self.format(record).encode(ENCODING, ERRORS)) > self.maxBytes


def pieces(data: bytes, max_bytes: int) -> Iterator[bytes]:
    """`data` as records: each line whole (with its newline), a line longer than `max_bytes` cut
    into parts of `max_bytes`, and what follows the last newline as a last part."""
    for line in data.splitlines(keepends=True):
        for start in range(0, len(line), max_bytes):
            yield line[start : start + max_bytes]


def rotate_stream(read: Callable[[], bytes], path: Path, max_bytes: int, backups: int) -> None:
    """Copy what `read` returns into `path`, rotated, until it returns b"" (end of input)."""
    handler = _SizeCappedHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding=ENCODING, errors=ERRORS
    )
    handler.terminator = ""
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        while data := read():
            for piece in pieces(data, max_bytes):
                # a write that fails (a full disk) is reported on stderr and the input is still
                # drained: the driver is never blocked on its own log
                handler.handle(logging.makeLogRecord({"msg": piece.decode(ENCODING, ERRORS)}))
    finally:
        handler.close()


def rotator_argv(python: str, path: Path, max_bytes: int, backups: int) -> list[str]:
    """The command of a rotator process (isolated, no site packages: the standard library only)."""
    return [python, "-I", "-S", str(Path(__file__).resolve()), "--path", str(path),
            "--max-bytes", str(max_bytes), "--backups", str(backups)]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Copy standard input into a log rotated by size.")
    parser.add_argument("--path", type=Path, required=True, help="the log file")
    parser.add_argument("--max-bytes", type=int, required=True, help="largest size of each file")
    parser.add_argument("--backups", type=int, required=True, help="rotated files kept (LOG.1 ...)")
    args = parser.parse_args(argv)
    if args.max_bytes < 1 or args.backups < 1:
        parser.error("--max-bytes and --backups must be 1 or more")
    # The driver's group is stopped with SIGTERM (then SIGKILL): the rotator outlives it long
    # enough to write its last words, and ends when the pipe closes.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    rotate_stream(lambda: os.read(0, CHUNK), args.path, args.max_bytes, args.backups)
    return 0


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of `path` that exist, newest first: LOG.1, LOG.2, ..."""
    found: list[Path] = []
    while (candidate := path.with_name(f"{path.name}.{len(found) + 1}")).exists():
        found.append(candidate)
    return found


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class LogFile:
    """A log on this host that a rotator may rotate while it is read."""

    def __init__(self, path: Path):
        self.path = path
        self._handle = self._open()

    def _open(self) -> BinaryIO | None:
        try:
            return open(self.path, "rb")
        except OSError:
            return None

    def tail(self, max_bytes: int = 2_000_000) -> str:
        """The last `max_bytes` of the log (across the rotated files), and the reader placed at its
        end, so that `new` returns what comes after."""
        handle = self._reopen_if_missing()
        if handle is None:
            return ""
        size = os.fstat(handle.fileno()).st_size
        handle.seek(max(0, size - max_bytes))
        parts = [handle.read(size - handle.tell())]
        left = max_bytes - len(parts[0])
        for older in rotated_files(self.path):
            if left <= 0:
                break
            try:
                with open(older, "rb") as previous:
                    previous.seek(0, os.SEEK_END)
                    previous.seek(max(0, previous.tell() - left))
                    parts.insert(0, previous.read())
            except OSError:
                break
            left -= len(parts[0])
        return b"".join(parts).decode(ENCODING, "replace")

    def new(self) -> str:
        """What was written since the last read (or since `tail`), across rotations."""
        return b"".join(self.chunks()).decode(ENCODING, "replace")

    def chunks(self) -> Iterator[bytes]:
        handle = self._reopen_if_missing()
        while handle is not None:
            chunk = handle.read(CHUNK)
            if chunk:
                yield chunk
                continue
            current = _inode(self.path)
            mine = os.fstat(handle.fileno())
            if current == mine.st_ino or current is None:  # not rotated (or mid-rotation: next time)
                if mine.st_size < handle.tell():  # truncated in place: read it again
                    handle.seek(0)
                    continue
                return
            yield from self._switch(mine.st_ino)
            handle = self._handle

    def _switch(self, finished: int) -> Iterator[bytes]:
        """The file read so far was rotated away: read the rotated files newer than it, oldest
        first, then move on to the current file from its start."""
        assert self._handle is not None
        self._handle.close()
        self._handle = self._open()
        current = os.fstat(self._handle.fileno()).st_ino if self._handle else None
        rotated = rotated_files(self.path)
        inodes = [_inode(path) for path in rotated]
        newer = rotated[: inodes.index(finished)] if finished in inodes else rotated
        for path in reversed(newer):
            if _inode(path) == current:
                continue  # rotated again meanwhile: it is the file now open, read next
            try:
                with open(path, "rb") as handle:
                    while chunk := handle.read(CHUNK):
                        yield chunk
            except OSError:
                continue

    def _reopen_if_missing(self) -> BinaryIO | None:
        if self._handle is None:
            self._handle = self._open()
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class TailFollower:
    """Follows a log that only offers its end (`read()`: the last bytes, as text), made of one
    part or of several parts each under a `==> name <==` line (as `tail` prints many files, and
    YARN's container logs come): what is new in a part is what follows the end of what was printed
    of it before. When that end is no longer in the window (more was written between two reads
    than the window holds, or the log began again), the whole part is new, after a note of the gap."""

    HEAD = 256
    HEADER = re.compile(r"^==> .* <==$", re.MULTILINE)

    def __init__(self, read: Callable[[], str]):
        self._read = read
        self._seen: dict[str, str] = {}

    def tail(self) -> str:
        text = self._read()
        self._seen = self.parts(text)
        return text

    def new(self) -> str:
        out = []
        for header, text in self.parts(self._read()).items():
            added = self._added(self._seen.get(header, ""), text) if text != self._seen.get(header) else ""
            self._seen[header] = text
            if added:
                out.append(f"{header}\n{added}" if header else added)
        return "".join(out)

    @classmethod
    def parts(cls, text: str) -> dict[str, str]:
        """The log's parts by their header line ("" for text before any header)."""
        found: dict[str, str] = {}
        starts = [match.start() for match in cls.HEADER.finditer(text)]
        if not starts or starts[0] > 0:
            found[""] = text[: starts[0] if starts else len(text)]
        for start, end in zip(starts, [*starts[1:], len(text)], strict=False):
            header, _, body = text[start:end].partition("\n")
            found[header] = body
        return found

    def _added(self, seen: str, text: str) -> str:
        """What `text` adds to `seen`: `text` is a later window of the same log, so it starts with
        an end of `seen` (unless more than the window was written since). That end is found from
        the first line of `text`, each place checked whole; the longest one wins."""
        if not seen:
            return text
        head = text[: min(self.HEAD, text.find("\n") + 1 or len(text))]
        start = seen.find(head) if head else -1
        while start >= 0:
            if text.startswith(seen[start:]):
                return text[len(seen) - start :]
            start = seen.find(head, start + 1)
        return "[... the log moved on by more than its window: lines may be missing here]\n" + text


if __name__ == "__main__":
    sys.exit(main())
