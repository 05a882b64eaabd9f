"""A process group whose output is rotated: real processes write past the size, the process that
started them exits, the group is stopped; the rotator keeps every file within its size, keeps the
group's last words, outlives its starter, and ends with the group's output."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from kinesis_pipelines.logfiles import rotated_files
from kinesis_pipelines.processes import LogRotation, alive, start_group, stop_group


def rotators_of(log: Path) -> list[int]:
    """Process ids of the rotators writing `log` (found by their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(arg.endswith(b"logfiles.py") for arg in argv) and str(log).encode() in argv:
                found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def writer(lines: int, width: int = 100, pause: float = 0.0) -> list[str]:
    """A process that prints numbered lines of `width` bytes on stdout and stderr alike."""
    script = (
        "import sys, time\n"
        f"for n in range({lines}):\n"
        "    out = sys.stdout if n % 2 else sys.stderr\n"
        f"    out.write(('line %08d ' % n).ljust({width - 1}, 'x') + '\\n')\n"
        "    out.flush()\n"
        f"    time.sleep({pause})\n"
    )
    return [sys.executable, "-c", script]


def test_a_group_writing_past_the_size_keeps_backups_files_each_within_it(tmp_path: Path) -> None:
    log = tmp_path / "driver.log"
    group = start_group(writer(400), log, rotation=LogRotation(max_bytes=4096, backups=3))
    assert group.wait(timeout=60) == 0
    wait_until(lambda: not rotators_of(log), 30, "the rotator to end with its input")
    files = [*reversed(rotated_files(log)), log]
    assert len(files) == 4  # three rotated files, no more, and the current one
    assert all(path.stat().st_size <= 4096 for path in files)
    kept = b"".join(path.read_bytes() for path in files).decode().splitlines()
    numbers = [int(line.split()[1]) for line in kept]
    assert numbers == list(range(400 - len(numbers), 400))  # the newest lines, in order, whole
    assert len(numbers) >= 3 * 40  # each rotated file full: 40 lines of 100 bytes


def test_the_group_and_its_rotator_outlive_the_process_that_started_them(tmp_path: Path) -> None:
    """The orchestrator that deploys a driver may exit (a CLI run, a restarted code server): the
    driver and the rotation of its log go on without it."""
    log = tmp_path / "driver.log"
    starter = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from kinesis_pipelines.processes import LogRotation, start_group
        group = start_group({writer(300, pause=0.01)!r}, Path({str(log)!r}),
                            rotation=LogRotation(max_bytes=4096, backups=2))
        print(group.pid)
        """
    )
    started = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    pid = int(started.stdout)
    assert alive(pid), "the group ended with the process that started it"
    wait_until(lambda: not alive(pid), 60, "the writer to finish")
    wait_until(lambda: not rotators_of(log), 30, "the rotator to end with its input")
    assert log.read_bytes().decode().splitlines()[-1].startswith("line 00000299 ")
    assert len(rotated_files(log)) == 2
    assert all(path.stat().st_size <= 4096 for path in [log, *rotated_files(log)])


def test_a_stopped_group_leaves_its_last_words_and_its_rotator_ends(tmp_path: Path) -> None:
    """stop_group signals the driver's group, never the rotator (its own session): the rotator
    writes what the driver said on its way out, then ends when the group's output closes."""
    log = tmp_path / "driver.log"
    script = textwrap.dedent(
        """
        import signal, sys, time
        def bye(*_):
            print("stopping: last words", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("running", flush=True)
        while True:
            time.sleep(0.1)
        """
    )
    group = start_group([sys.executable, "-c", script], log, rotation=LogRotation(max_bytes=1000, backups=1))
    wait_until(lambda: log.exists() and b"running" in log.read_bytes(), 30, "the group to start")
    rotators = rotators_of(log)
    assert len(rotators) == 1
    stop_group(group.pid, grace_seconds=10)
    assert group.poll() is not None
    wait_until(lambda: not any(alive(pid) for pid in rotators), 30, "the rotator to end")
    assert log.read_text() == "running\nstopping: last words\n"
