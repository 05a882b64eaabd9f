"""How big batches grow when the job falls behind: records per batch while a processor slower
than the stream works through a steady input, with Spark's FIFO scheduler and with the FAIR
scheduler the submit sets (the ledger's per-batch job in a pool of its own), in one run.

    .venv/bin/python bench/overload.py [--seconds 300] [--rate 120]

A batch holds the blocks received until Spark creates it, and the delivery ledger reads each
batch's keys while Spark creates it: under FIFO that read waits behind every task of the batches
being processed, so a job that is behind creates ever fewer, ever bigger batches (and one poison
record dead-letters a whole big batch). Prints, per scheduler, the batches completed, the median
and largest records per batch, the largest against what one interval at the put rate holds, and
the mean scheduling delay and the records published in the time (throughput); the ratio
largest/interval is what to compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.sinks import BATCH_PREFIX
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import resolve_path

INTERVAL_SECONDS = 2.0


def spec_for(scheduler: str) -> PipelineSpec:
    name = f"overload_{scheduler.lower()}"
    return PipelineSpec.model_validate(
        {
            "name": name,
            "stream": {"name": name.replace("_", "-"), "endpoint_url": "embedded", "shards": 2},
            "app_table": {"application_name": f"{name}-app", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {
                "checkpoint_dir": "cp",
                "sink": {"path": f"out-{name}"},
                "executor_cores": 3,
                "batch_interval_seconds": INTERVAL_SECONDS,
                "processor": "kinesis_pipelines.app.processors:slow_passthrough",
                "spark_conf": {"spark.scheduler.mode": scheduler},
            },
        }
    )


def produce(client: Any, stream: str, rate: int, seconds: float, prefix: str) -> None:
    """`rate` ids a second for `seconds`, a second's worth at a time."""
    started = time.monotonic()
    second = 0
    while time.monotonic() - started < seconds:
        put_all(client, stream, unique_ids(f"{prefix}-{second}", rate))
        second += 1
        time.sleep(max(0.0, started + second - time.monotonic()))


def batch_sizes(spec: PipelineSpec, ui_url: str) -> tuple[list[int], float]:
    """Records of each published batch (lines in its directory of the sink), and the mean
    scheduling delay (s) of the completed batches, from Spark's API."""
    sink = resolve_path(spec.job.sink.path)
    sizes = [
        sum(len(part.read_text().splitlines()) for part in batch.glob("part-*"))
        for batch in sorted(sink.glob(f"{BATCH_PREFIX}*"))
    ]
    app = requests.get(f"{ui_url}/api/v1/applications", timeout=30).json()[0]["id"]
    batches = requests.get(
        f"{ui_url}/api/v1/applications/{app}/streaming/batches?status=COMPLETED", timeout=30
    ).json()
    delays = [batch.get("schedulingDelay", 0) / 1000 for batch in batches]
    return sizes, statistics.mean(delays) if delays else 0.0


def measure(scheduler: str, rate: int, seconds: float) -> dict[str, float]:
    spec = spec_for(scheduler)
    backends = operations.backends_for(spec)
    deployment = operations.deploy(spec, backends)
    record = deployment.job.record
    assert record is not None and record.ui_url, deployment.job
    try:
        producer = threading.Thread(
            target=produce, args=(backends.stream.client, spec.stream.name, rate, seconds, scheduler)
        )
        producer.start()
        producer.join()
        sizes, delay = batch_sizes(spec, record.ui_url)
    finally:
        backends.launcher.kill(record)
    busy = [size for size in sizes if size > 0]
    per_interval = rate * INTERVAL_SECONDS
    largest = max(busy, default=0)
    return {
        "batches": len(busy),
        "published": sum(busy),
        "median": statistics.median(busy) if busy else 0,
        "largest": largest,
        "largest_per_interval": largest / per_interval,
        "scheduling_delay_s": delay,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument(
        "--rate", type=int, default=120, help="ids put per second (the processor takes 100 a second per core)"
    )
    args = parser.parse_args()
    isolated_home()
    with LocalAws():
        results = {scheduler: measure(scheduler, args.rate, args.seconds) for scheduler in ("FIFO", "FAIR")}
    print(
        f"{args.rate} ids/s for {args.seconds:.0f} s, batch interval {INTERVAL_SECONDS:g} s, slow processor"
    )
    print(
        f"{'scheduler':<10}{'batches':>9}{'records':>9}{'median':>9}{'largest':>9}"
        f"{'largest/interval':>18}{'delay s':>9}"
    )
    for scheduler, result in results.items():
        print(
            f"{scheduler:<10}{result['batches']:>9.0f}{result['published']:>9.0f}{result['median']:>9.0f}"
            f"{result['largest']:>9.0f}"
            f"{result['largest_per_interval']:>18.1f}{result['scheduling_delay_s']:>9.1f}"
        )


if __name__ == "__main__":
    main()
