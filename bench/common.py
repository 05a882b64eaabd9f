"""Shared helpers of the benchmarks: a throwaway state home, process-group memory."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests


def isolated_home() -> Path:
    """A throwaway state home; and SIGTERM (a timeout, a Ctrl-C from a supervisor) unwinds like
    an exception, so the embedded AWS and drivers a benchmark started are stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = Path(tempfile.mkdtemp(prefix="kp-bench-"))
    os.environ["KINESIS_PIPELINES_HOME"] = str(home)
    return home


def group_rss_mib(pgid: int) -> float:
    """Resident memory of every process in a process group, in MiB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().split(") ", 1)[1].split()
            if int(stat[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


def first_batch(ui_url: str, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            apps = requests.get(f"{ui_url}/api/v1/applications", timeout=2).json()
            stats = requests.get(
                f"{ui_url}/api/v1/applications/{apps[0]['id']}/streaming/statistics", timeout=2
            ).json()
            if stats.get("numTotalCompletedBatches", 0) >= 1:
                return time.monotonic()
        except (requests.RequestException, ValueError, IndexError, KeyError):
            pass
        time.sleep(0.1)
    raise TimeoutError("no first batch")
