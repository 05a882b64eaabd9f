"""Recovery through the real Dagster daemon, part by part: kill to first new record.

    .venv/bin/python bench/supervision.py [--kills 3] [--rate 100] [--kill group|driver]

Starts the embedded AWS and a real dagster-webserver and dagster-daemon on workspace.yaml, deploys
the shipped `records` pipeline (as an operator would), produces steadily and SIGKILLs the driver's
process group `--kills` times, a minute apart (past the restart back-off). The daemon's health
sensor, every 5 s, notices and asks for a restart run. With `--kill driver` only the driver's
processes die (spark-submit's JVM and the Python driver: a crash on a host that lives on), and the
local launcher's attempts runner relaunches it in place, with no run. For each kill it prints, in
seconds after the kill:

    run created   the sensor's restart run exists (detection)
    run started   Dagster's run worker is up and executing
    submitted     spark-submit of the new driver
    driver up     the new driver's StreamingContext started
    leases        every shard's lease held again by the new driver's receivers
    first batch   the new driver completed a batch (often replayed from the checkpoint)
    first new     the first record produced after the kill reached the sink: reading again

and the duplicates in the output and those the delivery ledger dropped.
"""

from __future__ import annotations

import argparse
import bisect
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import DagsterInstance, RunsFilter

from bench.common import isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.orchestration.sensors import HEALTH_SECONDS
from kinesis_pipelines.producer import account, put_all, unique_ids
from kinesis_pipelines.spec import load_spec
from kinesis_pipelines.state import resolve_path
from kinesis_pipelines_tests.e2e.supervision_helpers import group_members
from kinesis_pipelines_tests.support.dagster_services import REPO, dagster_services

RECORDS = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"
RESTART_JOB = "records__restart"
PARTS = ["run created", "run started", "submitted", "driver up", "leases", "first batch", "first new"]


class Producer(threading.Thread):
    """Puts ids at a steady rate and remembers when each was sent."""

    def __init__(self, client: Any, stream: str, ids: list[str], rate: float) -> None:
        super().__init__(daemon=True)
        self.client, self.stream, self.ids, self.rate = client, stream, ids, rate
        self.sent_counts: list[int] = []
        self.sent_times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        chunk = max(1, int(self.rate / 10))
        for start in range(0, len(self.ids), chunk):
            if self.stop.is_set():
                return
            began = time.time()
            put_all(self.client, self.stream, self.ids[start : start + chunk])
            self.sent_counts.append(start + chunk)
            self.sent_times.append(time.time())
            time.sleep(max(0.0, chunk / self.rate - (time.time() - began)))

    def sent(self) -> list[str]:
        return self.ids[: self.sent_counts[-1]] if self.sent_counts else []

    def first_index_after(self, moment: float) -> int:
        """The index of the first id sent after `moment`."""
        position = bisect.bisect_right(self.sent_times, moment)
        return self.sent_counts[position - 1] if position > 0 else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--between", type=float, default=60.0, help="seconds between kills")
    parser.add_argument("--kill", choices=["group", "driver"], default="group")
    args = parser.parse_args()
    isolated_home()
    spec = load_spec(RECORDS)
    sink = resolve_path(spec.job.sink.path)
    rows: list[dict[str, float | None]] = []
    with LocalAws(), tempfile.TemporaryDirectory(prefix="kp-bench-dagster-") as dagster_tmp:
        backends = operations.backends_for(spec)
        operations.deploy(spec, backends, progress=print)
        ids = unique_ids("rec", int(args.rate * (args.between * (args.kills + 1) + 120)))
        producer = Producer(backends.stream.client, spec.stream.name, ids, args.rate)
        producer.start()
        with dagster_services(Path(dagster_tmp)) as _client:
            instance = DagsterInstance.from_config(str(Path(dagster_tmp) / "dagster_home"))
            time.sleep(30)
            for kill in range(1, args.kills + 1):
                rows.append(measure_one_kill(spec, backends, instance, producer, sink, kill, args.kill))
                time.sleep(max(0.0, args.between - 30))
            producer.stop.set()
            producer.join()
            tally = account(producer.sent(), read_output(sink))
            deadline = time.monotonic() + 120
            while tally.lost and time.monotonic() < deadline:
                time.sleep(2)
                tally = account(producer.sent(), read_output(sink))
            operations.stop(spec, backends, by="bench")
    totals = read_totals(ledger_dir(spec))
    print(f"\nsensor every {HEALTH_SECONDS} s through dagster-daemon; {args.rate:.0f} records/s; WAL on")
    print(f"{'kill':>4} " + " ".join(f"{part:>12}" for part in PARTS))
    for n, row in enumerate(rows, 1):
        print(f"{n:>4} " + " ".join(f"{_fmt(row.get(part)):>12}" for part in PARTS))
    print(
        f"records {tally.produced}, lost {tally.lost}, duplicates in the output {tally.duplicates}, "
        f"dropped by the delivery ledger {totals['dropped']}"
    )


def measure_one_kill(
    spec: Any,
    backends: Any,
    instance: DagsterInstance,
    producer: Producer,
    sink: Path,
    kill: int,
    what: str,
) -> dict[str, float | None]:
    old = backends.store.driver()
    assert old is not None and old.pid is not None, old
    counters = {lease.shard_id: lease.counter for lease in backends.app_table.leases()}
    known_runs = {r.dagster_run.run_id for r in instance.get_run_records(RunsFilter(job_name=RESTART_JOB))}
    attempt = backends.launcher.status(old).attempt
    killed_at = time.time()
    if what == "group":
        os.killpg(old.pid, signal.SIGKILL)
    else:
        for pid in group_members(old.pid):
            if pid != old.pid:
                os.kill(pid, signal.SIGKILL)
    print(f"kill {kill}: SIGKILL to the driver's {what} ({old.pid})", flush=True)
    first_new_index = producer.first_index_after(killed_at)
    seen: dict[str, float | None] = dict.fromkeys(PARTS)
    deadline = time.monotonic() + 240
    while seen["first new"] is None and time.monotonic() < deadline:
        now = time.time()
        runs = [
            r
            for r in instance.get_run_records(RunsFilter(job_name=RESTART_JOB))
            if r.dagster_run.run_id not in known_runs
        ]
        if runs and seen["run created"] is None:
            seen["run created"] = runs[-1].create_timestamp.timestamp() - killed_at
        if runs and seen["run started"] is None and runs[-1].start_time:
            seen["run started"] = runs[-1].start_time - killed_at
        current = backends.store.driver()
        relaunched = None
        if current is not None and current.driver_id == old.driver_id:
            status = backends.launcher.status(current)
            if status.attempt > attempt:
                relaunched = status.relaunched_at[-1]
        if current is not None and (current.driver_id != old.driver_id or relaunched is not None):
            if seen["submitted"] is None:
                seen["submitted"] = (relaunched or current.submitted_at) - killed_at
            info = backends.launcher.driver_info(current)
            if info is not None and info.started_at < killed_at:
                info = None  # the dead attempt's, not yet cleared
            if info is not None and seen["driver up"] is None:
                seen["driver up"] = info.started_at - killed_at
            if info is not None and seen["first batch"] is None:
                stats = monitoring.driver_api(backends.launcher, current, "streaming/statistics", timeout=1)
                if stats and stats.get("numTotalCompletedBatches", 0) >= 1:
                    seen["first batch"] = now - killed_at
            if seen["leases"] is None:
                leases = backends.app_table.leases()
                if leases and all(
                    lease.owner and lease.counter > counters.get(lease.shard_id, -1) for lease in leases
                ):
                    seen["leases"] = now - killed_at
        if seen["submitted"] is not None:
            wanted = set(producer.ids[first_new_index : first_new_index + 1000])
            if any(line in wanted for line in read_output(sink)):
                seen["first new"] = time.time() - killed_at
        time.sleep(0.25)
    print(f"kill {kill}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in seen.items()), flush=True)
    return seen


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
