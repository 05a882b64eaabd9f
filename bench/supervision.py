"""Detection latency and kill-to-first-batch-after-restart in local mode, and duplicates per kill.

    .venv/bin/python bench/supervision.py [--kills 3]

A steady producer runs; the driver gets SIGKILL; the real health sensor is evaluated at its own
cadence (every 5 s, as the daemon would) and its restart request runs the real restart job.
Target: kill to first batch after restart at most 20 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.orchestration import build_definitions
from kinesis_pipelines.orchestration.sensors import HEALTH_SECONDS
from kinesis_pipelines.producer import account, put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import resolve_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    isolated_home()
    spec = PipelineSpec.model_validate(
        {
            "name": "bench_sup",
            "stream": {"name": "bench-sup", "endpoint_url": "embedded", "shards": 2},
            "app_table": {"application_name": "bench-sup-app", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {
                "checkpoint_dir": "cp",
                "sink": {"path": "out"},
                "executor_cores": 3,
                "batch_interval_seconds": 1,
                "kcl_checkpoint_interval_seconds": 1,
                "write_ahead_log": True,
            },
            "supervision": {"stall_batches": 3, "restart": {"backoff_seconds": 1}},
        }
    )
    with LocalAws():
        b = operations.backends_for(spec)
        operations.deploy(spec, b)
        defs = build_definitions([spec])
        sensor = defs.get_sensor_def("bench_sup__health")
        restart = defs.get_job_def("bench_sup__restart")
        instance = dg.DagsterInstance.ephemeral()
        ids = unique_ids("sup", 200 * (25 * args.kills + 20))
        stop = threading.Event()
        sent: list[str] = []

        def produce() -> None:
            client = b.stream.client
            for start in range(0, len(ids), 100):
                if stop.is_set():
                    return
                put_all(client, spec.stream.name, ids[start : start + 100])
                sent.extend(ids[start : start + 100])
                time.sleep(0.5)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        time.sleep(15)
        rows = []
        for _ in range(args.kills):
            before = account(sent, read_output(resolve_path("out"))).duplicates
            record = b.store.driver()
            assert record is not None and record.pid is not None, record
            killed_at = time.monotonic()
            os.killpg(record.pid, signal.SIGKILL)
            detected = restarted = first_batch = None
            next_tick = killed_at + (time.monotonic() % HEALTH_SECONDS)  # a random phase
            while first_batch is None:
                now = time.monotonic()
                if detected is None and now >= next_tick:
                    next_tick = now + HEALTH_SECONDS
                    with dg.build_sensor_context(
                        instance=instance, resources=defs.resources, definitions=defs
                    ) as context:
                        result = sensor.evaluate_tick(context)
                    for request in result.run_requests or []:
                        detected = time.monotonic()
                        restart.execute_in_process(run_config=request.run_config, instance=instance)
                        restarted = time.monotonic()
                if restarted is not None:
                    # the restart run replaced the driver: read the new one's statistics
                    current = b.store.driver()
                    stats = (
                        monitoring.driver_api(b.launcher, current, "streaming/statistics", timeout=1)
                        if current is not None
                        else None
                    )
                    if stats and stats.get("numTotalCompletedBatches", 0) >= 1:
                        first_batch = time.monotonic()
                time.sleep(0.1)
            time.sleep(20)
            after = account(sent, read_output(resolve_path("out"))).duplicates
            assert detected is not None and restarted is not None  # a first batch follows both
            rows.append(
                (detected - killed_at, restarted - killed_at, first_batch - killed_at, after - before)
            )
        stop.set()
        producer.join()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tally = account(sent, read_output(resolve_path("out")))
            if tally.lost == 0:
                break
            time.sleep(1)
        operations.stop(spec, b, by="bench")
    print(f"sensor cadence {HEALTH_SECONDS} s; steady load 200 records/s; WAL on")
    print(f"{'kill':>4} {'detected s':>11} {'restarted s':>12} {'first batch s':>14} {'duplicates':>11}")
    for n, (det, res, first, dup) in enumerate(rows, 1):
        print(f"{n:>4} {det:>11.1f} {res:>12.1f} {first:>14.1f} {dup:>11}")
    print(f"records {tally.produced}, lost {tally.lost}, duplicates {tally.duplicates}")


if __name__ == "__main__":
    main()
