"""A fleet of pipelines watched by their health sensors: the cost of one tick.

    .venv/bin/python bench/fleet.py [--pipelines 100] [--shards 4] [--ticks 24]

On the embedded AWS, behind recording proxies (every call is counted at the proxy), N pipelines of
S shards each have a stream, a lease table with one KCL lease per shard, and a driver record that
a stand-in launcher reports as running (no drivers are needed to measure observation). Every
pipeline's `supervise` runs once per simulated 5 s tick, as the sensors do. Printed per tick:
AWS calls, supervise time; and the Dagster events a tick would write, extrapolated to an hour.
It runs twice: with the bounds (lag read every 60 s, observations recorded on change or every
60 s) and without them (every tick reads lag and records), which is what a tick cost before.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.control import DriverInfo
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.launch import DriverRecord, DriverState, DriverStatus
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import SupervisorMemory
from kinesis_pipelines_tests.e2e.helpers import make_spec
from kinesis_pipelines_tests.support.proxies import emulator_proxies

TICK_SECONDS = 5.0
# the module (the package re-exports its function `supervise` under the same name)
SUPERVISE: Any = importlib.import_module("kinesis_pipelines.operations.supervise")


class RunningLauncher:
    """Says every driver runs; has no monitoring API (so no HTTP), like a driver still starting."""

    name = "bench"

    def status(self, record: DriverRecord) -> DriverStatus:
        return DriverStatus(state=DriverState.RUNNING)

    def driver_info(self, record: DriverRecord) -> DriverInfo | None:
        return None

    def logs(self, record: DriverRecord, max_bytes: int = 2_000_000) -> str:
        return ""


def fleet(count: int, shards: int, urls: dict[str, str], connection: AwsConnection) -> list[PipelineSpec]:
    specs = []
    for i in range(count):
        spec = make_spec(f"fleet_{i:03d}", shards=shards)
        specs.append(
            spec.model_copy(
                update={
                    "stream": spec.stream.model_copy(update={"endpoint_url": urls["kinesis"]}),
                    "app_table": spec.app_table.model_copy(update={"endpoint_url": urls["dynamodb"]}),
                }
            )
        )

    def create(spec: PipelineSpec) -> None:
        backends = operations.backends_for(spec, connection=connection)
        report = backends.stream.ensure_stream()
        backends.app_table.ensure_table(report.all_shards, backends.stream.oldest_sequence_number)
        for shard in report.open_shards:
            backends.dynamodb.put_item(
                TableName=spec.app_table.application_name,
                Item={"leaseKey": {"S": shard}, "checkpoint": {"S": "TRIM_HORIZON"},
                      "leaseCounter": {"N": "1"}, "leaseOwner": {"S": "bench"}},
            )  # fmt: skip
        backends.store.save_driver(
            DriverRecord(
                backend="bench", driver_id=f"bench-{spec.name}", pipeline=spec.name, generation="g",
                control_dir="-", log_location="-", ui_url="http://127.0.0.1:9", submitted_at=time.time(),
                receivers=shards, cores=shards + 1,
            )
        )  # fmt: skip

    create(specs[0])  # first alone: it creates the control table the pipelines share
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, specs[1:]))
    return specs


def run_ticks(
    specs: list[PipelineSpec], connection: AwsConnection, calls: Path, ticks: int
) -> dict[str, float]:
    start = time.time()
    per_tick_calls, per_tick_seconds, events = [], [], 0
    operations_seen: Counter[str] = Counter()
    for tick in range(ticks):
        before = _lines(calls)
        started = time.perf_counter()
        for spec in specs:
            # new backends every tick, as a sensor builds them from its resources
            backend = operations.backends_for(spec, connection=connection, launcher=RunningLauncher())
            look = operations.supervise(spec, backend, now=start + tick * TICK_SECONDS)
            if look.record:
                events += 1 + 3  # the observation and the three check evaluations
            if look.output_report is not None:
                events += 1
        per_tick_seconds.append(time.perf_counter() - started)
        time.sleep(0.3)  # the proxies append asynchronously
        recorded = _read(calls)[before:]
        per_tick_calls.append(len(recorded))
        operations_seen.update(f"{call['service']}:{call['operation']}" for call in recorded)
    hours = ticks * TICK_SECONDS / 3600
    return {
        "calls_per_tick": sum(per_tick_calls) / ticks,
        "calls_per_tick_per_pipeline": sum(per_tick_calls) / ticks / len(specs),
        "max_calls_in_a_tick": max(per_tick_calls),
        "supervise_seconds_per_tick": sum(per_tick_seconds) / ticks,
        "supervise_ms_per_pipeline": sum(per_tick_seconds) / ticks / len(specs) * 1000,
        "events_per_hour": events / hours,
        "events_per_hour_per_pipeline": events / hours / len(specs),
        "calls_by_operation": dict(operations_seen.most_common()),  # type: ignore[dict-item]
    }


def _lines(path: Path) -> int:
    return len(_read(path))


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipelines", type=int, default=100)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--ticks", type=int, default=36, help="simulated 5 s ticks (36: three minutes)")
    parser.add_argument("--baseline-ticks", type=int, default=4, help="ticks of the unbounded run")
    args = parser.parse_args()
    home = isolated_home()
    aws = LocalAws(home)
    state = aws.start()
    import os

    os.environ["AWS_CA_BUNDLE"] = state.ca_bundle
    calls = home / "calls.jsonl"
    try:
        with emulator_proxies(state, home, ("kinesis", "dynamodb"), record=calls) as urls:
            embedded = operations.backends_for(make_spec("fleet_probe", shards=1)).connection
            connection = AwsConnection(
                region="us-east-1",
                endpoints={"kinesis": urls["kinesis"], "dynamodb": urls["dynamodb"]},
                ca_bundle=embedded.ca_bundle,
                embedded=True,
            )
            t0 = time.perf_counter()
            specs = fleet(args.pipelines, args.shards, urls, connection)
            took = time.perf_counter() - t0
            print(f"{args.pipelines} pipelines of {args.shards} shards set up in {took:.0f} s")
            bounded = run_ticks(specs, connection, calls, args.ticks)
            SUPERVISE.LAG_REFRESH_SECONDS = 0.0  # as before: lag read every tick
            SUPERVISE.RECORD_EVERY_SECONDS = 0.0  # as before: every tick recorded
            for spec in specs:  # forget the bounded run's memory
                operations.backends_for(spec, connection=connection).store.save_supervisor(SupervisorMemory())
            unbounded = run_ticks(specs, connection, calls, args.baseline_ticks)
    finally:
        aws.stop()
    for label, figures in (("bounded (now)", bounded), ("every tick (before)", unbounded)):
        print(f"\n{label}:")
        for key, value in figures.items():
            print(f"  {key:32} {value if isinstance(value, dict) else round(value, 2)}")
    print("\nratios, every tick / bounded:")
    for key in ("calls_per_tick", "supervise_seconds_per_tick", "events_per_hour"):
        print(f"  {key:32} {unbounded[key] / max(bounded[key], 1e-9):.1f}x")


if __name__ == "__main__":
    main()
