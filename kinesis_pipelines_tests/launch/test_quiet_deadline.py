"""The drain's deadline: it moves on while the driver's work count goes up."""

from __future__ import annotations

import time

import pytest

from kinesis_pipelines.launch.base import QuietDeadline


def test_a_plain_deadline_passes_after_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    deadline = QuietDeadline(60)
    clock[0] = 1059
    assert not deadline.passed()
    clock[0] = 1060
    assert deadline.passed()


def test_work_moves_the_deadline_on_and_silence_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    done = [10]
    deadline = QuietDeadline(60, working=lambda: done[0], check_seconds=5)
    # working: a task finishes every 10 s for ten minutes, far past the 60 s timeout
    for _ in range(60):
        clock[0] += 10
        done[0] += 1
        assert not deadline.passed(), clock[0]
    # then nothing finishes (a processor hung on a call): passed 60 s after the last count went up
    last_work = clock[0]
    while not deadline.passed():
        clock[0] += 5
    assert 60 <= clock[0] - last_work <= 65


def test_an_unreadable_count_is_no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    deadline = QuietDeadline(60, working=lambda: None, check_seconds=5)
    clock[0] = 1061
    assert deadline.passed()
