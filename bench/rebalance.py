"""Convergence after a load step: from the step to 4 shards, 4 active receivers and every shard's
lag under the limit, with records lost (must be 0).

    .venv/bin/python bench/rebalance.py

The rebalance job runs every 10 s here (its schedule is cron, every 15 min by default); the
thresholds are scaled down so that what the emulator can take (~300 records/s) is a load step.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.operations import monitoring
from kinesis_pipelines.operations.supervise import lag_per_shard
from kinesis_pipelines.producer import account, put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import resolve_path

LAG_LIMIT_S = 5.0


def since_step(at: float | None, step_at: float) -> str:
    return "not within 400 s of the step" if at is None else f"{at - step_at:.0f} s after the step"


def main() -> None:
    isolated_home()
    spec = PipelineSpec.model_validate(
        {
            "name": "bench_rb",
            "stream": {"name": "bench-rb", "endpoint_url": "embedded", "shards": 2},
            "app_table": {"application_name": "bench-rb-app", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {
                "checkpoint_dir": "cp",
                "sink": {"path": "out"},
                "executor_cores": 6,
                "batch_interval_seconds": 1,
                "kcl_checkpoint_interval_seconds": 1,
            },
            "rebalancing": {
                "target_utilization": 0.05,
                "scale_up_threshold": 0.1,
                "scale_down_threshold": 0.02,
                "min_shards": 2,
                "max_shards": 4,
                "lag_limit_seconds": LAG_LIMIT_S,
            },
        }
    )
    with LocalAws():
        b = operations.backends_for(spec)
        operations.deploy(spec, b)
        time.sleep(20)
        ids = unique_ids("rb", 300 * 240)
        sent: list[str] = []
        stop = threading.Event()

        def produce() -> None:
            client = b.stream.client
            for start in range(0, len(ids), 150):
                if stop.is_set():
                    return
                put_all(client, spec.stream.name, ids[start : start + 150])
                sent.extend(ids[start : start + 150])
                time.sleep(0.5)

        thread = threading.Thread(target=produce, daemon=True)
        step_at = time.monotonic()
        thread.start()
        resharded_at = converged_at = None
        while converged_at is None and time.monotonic() - step_at < 400:
            time.sleep(10)
            outcome = operations.rebalance(spec, b, now=time.time())
            if outcome.applied:
                resharded_at = time.monotonic()
            record = b.store.driver()
            stats = (monitoring.streaming_statistics(b.launcher, record) if record else None) or {}
            lag = lag_per_shard(b)
            open_shards = len(b.stream.open_shard_ids())
            worst = max(lag.values(), default=0) / 1000
            planned = outcome.plan.action if outcome.plan else f"skipped ({outcome.skipped})"
            print(
                f"  t={time.monotonic() - step_at:5.0f} s shards={open_shards} "
                f"receivers={stats.get('numActiveReceivers')} max lag={worst:.1f} s "
                f"plan={planned}",
                flush=True,
            )
            if open_shards == 4 and stats.get("numActiveReceivers") == 4 and worst <= LAG_LIMIT_S:
                converged_at = time.monotonic()
        stop.set()
        thread.join()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            tally = account(sent, read_output(resolve_path("out")))
            if tally.lost == 0:
                break
            time.sleep(2)
        operations.stop(spec, b, by="bench")
    print(f"load step 0 -> 300 records/s on 2 shards; rebalance every 10 s; lag limit {LAG_LIMIT_S} s")
    print(f"resharded (2 -> 4, job rolled)  {since_step(resharded_at, step_at)}")
    print(f"converged (4 receivers, lag ok) {since_step(converged_at, step_at)}")
    print(f"records {tally.produced}, lost {tally.lost}, duplicates {tally.duplicates}")


if __name__ == "__main__":
    main()
