"""Progress of long external steps (npm, Maven): a person sees something every few seconds.

`run_with_progress` runs a command, reads its output as it comes, and says a one-line summary
of where it is (from `summarize`, fed every line) whenever that changes, at most every `every`
seconds; when nothing changes for `every` seconds it says that the step is still running. The
command's whole output is returned, for an error message."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

Say = Callable[[str], None]


class Summary:
    """Counts lines that match, with the bytes they mention: "N artifacts (X MB)"."""

    def __init__(
        self, noun: str, matches: Callable[[str], bool], size_of: Callable[[str], int] | None = None
    ):
        self.noun, self.matches, self.size_of = noun, matches, size_of
        self.count, self.bytes = 0, 0

    def __call__(self, line: str) -> str | None:
        if not self.matches(line):
            return None
        self.count += 1
        self.bytes += self.size_of(line) if self.size_of else 0
        size = f" ({self.bytes / 1e6:.1f} MB)" if self.bytes else ""
        return f"{self.count} {self.noun}{size}"


def run_with_progress(
    argv: Sequence[str],
    say: Say,
    label: str,
    summarize: Callable[[str], str | None],
    cwd: Path | None = None,
    every: float = 3.0,
) -> tuple[int, list[str]]:
    started = time.monotonic()
    process = subprocess.Popen(
        list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    latest: list[str | None] = [None]
    lock = threading.Lock()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            summary = summarize(line.rstrip())
            with lock:
                lines.append(line.rstrip())
                if summary is not None:
                    latest[0] = summary

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    said: str | None = None
    while reader.is_alive():
        reader.join(timeout=every)
        with lock:
            current = latest[0]
        elapsed = time.monotonic() - started
        if current != said and current is not None:
            say(f"{label}: {current} ({elapsed:.0f} s)")
            said = current
        elif reader.is_alive():  # nothing new: the last news, with the time, so it is not frozen
            say(f"{label}: {said + ', still' if said else 'working'} ({elapsed:.0f} s)")
    code = process.wait()
    return code, lines
