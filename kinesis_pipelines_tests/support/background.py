"""A thread that works beside a test until the block that started it ends."""

from __future__ import annotations

import threading

from typing_extensions import Self


class Background:
    """Runs `run` (which loops until `stopping` is set) on a daemon thread for the length of a
    `with` block; `finished` is called once the thread is joined."""

    join_seconds = 30.0

    def __init__(self, name: str) -> None:
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        raise NotImplementedError

    def finished(self) -> None:
        """Called after the thread ended (or `join_seconds` passed)."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=self.join_seconds)
        self.finished()
