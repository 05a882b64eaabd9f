"""One writer, even when a driver is cut off from the fence table: a DynamoDB partition longer
than the fence's TTL between one driver's fence client and DynamoDB (its KCL workers still reach
DynamoDB and Kinesis, so it could go on writing), while a second driver of the same job starts.
The cut-off driver stops itself before the second one takes the fence over; nothing is published
by it after the takeover; every id comes out.

The fence's TTL is shortened for the test (KP_FENCE_TTL_SECONDS) and the first driver's fence
client alone goes through a TCP proxy that the test partitions (KP_FENCE_DYNAMODB_ENDPOINT)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.fencing import ENDPOINT_ENV, TTL_ENV
from kinesis_pipelines.app.sinks import BATCH_PREFIX, TOKEN_FILE
from kinesis_pipelines.aws import fence
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.attempts import read_attempts
from kinesis_pipelines.processes import alive, start_group, stop_group
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, materialize, wait_all_out, wait_for
from kinesis_pipelines_tests.support.proxies import PartitionProxy

pytestmark = pytest.mark.e2e

TTL = 9.0
TOOK = re.compile(r"took the fence as (\S+) at ([\d.]+): token (\d+)")


def command_of(pid: int) -> tuple[list[str], dict[str, str]]:
    """The spark-submit line and environment the local launcher's attempts runner `pid` runs."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    env = dict(entry.split("=", 1) for entry in raw if "=" in entry)
    return argv[argv.index("--") + 1 :], env


def python_driver(fence_owner: str) -> int:
    """The pid of the driver's Python process (spark-submit's child) that runs as `fence_owner`:
    the process that publishes batches."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        is_python = Path(argv[0].decode(errors="replace")).name.startswith("python")
        running = is_python and any(b"receiver_app.py" in arg for arg in argv)
        if running and f"KP_FENCE_OWNER={fence_owner}".encode() in environ:
            return int(entry.name)
    raise AssertionError(f"no Python driver runs as {fence_owner}")


def watch_end(pid: int) -> list[float]:
    """The first wall time `pid` was seen gone (appended), polled every 0.1 s."""
    ended: list[float] = []

    def poll() -> None:
        while alive(pid):
            time.sleep(0.1)
        ended.append(time.time())

    threading.Thread(target=poll, daemon=True).start()
    return ended


def test_a_driver_cut_off_from_its_fence_stops_before_another_takes_over(
    local_aws, assembly_jar, cleanup_drivers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = PartitionProxy(int(local_aws.endpoint("dynamodb").rsplit(":", 1)[1]))
    monkeypatch.setenv(TTL_ENV, str(TTL))
    monkeypatch.setenv(ENDPOINT_ENV, f"https://127.0.0.1:{proxy.port}")
    spec = make_spec("split", shards=1)
    cleanup_drivers.append(spec)
    second_pid = None
    try:
        materialize(spec)  # the first driver, its fence client through the proxy
        backends = operations.backends_for(spec)
        first = backends.store.driver()
        assert first is not None and first.pid is not None
        before = unique_ids("split-before", 200)
        put_all(backends.stream.client, spec.stream.name, before)
        tally = wait_all_out(spec, before, timeout=120)
        assert tally.lost == 0, Path(first.log_location).read_text()[-4000:]

        attempt = read_attempts(Path(first.control_dir))
        assert attempt is not None
        publisher_ended = watch_end(python_driver(attempt.attempts[0].fence_owner))
        argv, env = command_of(first.pid)
        for knob in (ENDPOINT_ENV, "KP_FENCE_OWNER"):
            env.pop(knob, None)
        proxy.partition()
        cut_at = time.time()
        second_log = tmp_path / "second-driver.log"
        second_pid = start_group(argv, second_log, env=env).pid
        during = unique_ids("split-during", 200)
        put_all(backends.stream.client, spec.stream.name, during)

        took = wait_for(
            lambda: TOOK.search(second_log.read_text()), 120, "the second driver to take the fence"
        )
        taken_at, token = float(took.group(2)), int(took.group(3))
        attempts = wait_for(
            lambda: (a := read_attempts(Path(first.control_dir))) and a.attempts[-1].ended_at and a,
            60,
            "the first driver to end",
        )
        ended = attempts.attempts[-1]
        first_log = Path(first.log_location).read_text()
        print(f"partition {cut_at:.3f}; first driver ended {ended.ended_at:.3f} (exit {ended.exit_code}); "
              f"second took the fence {taken_at:.3f}, token {token}; "
              f"the first's Python driver seen gone {publisher_ended}")  # fmt: skip
        assert ended.exit_code == fence.FENCED_EXIT_CODE, first_log[-3000:]
        assert "fence lost (the fence was not renewed" in first_log
        # the Python driver, which publishes every batch, was gone before the takeover
        assert publisher_ended and publisher_ended[0] < taken_at, first_log[-3000:]
        first_token = int(TOOK.findall(first_log)[-1][2])
        assert token > first_token
        assert len(attempts.attempts) == 1  # a fenced driver is not relaunched

        after = unique_ids("split-after", 200)
        put_all(backends.stream.client, spec.stream.name, after)
        tally = wait_all_out(spec, before + during + after, timeout=240)
        print(f"across the split: {tally.model_dump()}")
        assert (tally.lost, tally.duplicates) == (0, 0), second_log.read_text()[-3000:]
        assert alive(second_pid)
        # no batch published by the deposed driver after the takeover: each batch names its token
        sink = Path(job_path(spec.job.sink.path))
        published = {
            batch.name: (int((batch / TOKEN_FILE).read_text()), (batch / TOKEN_FILE).stat().st_mtime)
            for batch in sink.glob(f"{BATCH_PREFIX}*")
        }
        late = [name for name, (by, at) in published.items() if by == first_token and at >= taken_at]
        assert not late, f"published by the deposed driver after the takeover: {late}"
        assert {by for by, _ in published.values()} == {first_token, token}
    finally:
        proxy.close()
        if second_pid is not None:
            stop_group(second_pid, grace_seconds=5)
