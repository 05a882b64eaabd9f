"""Records/s consumed by the deployed job vs a plain boto3 reader draining the same emulator
stream, in one run; and the driver's memory while it works.

    .venv/bin/python bench/throughput.py [--records 20000] [--shards 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import group_rss_mib, isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import account, put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import resolve_path


def boto3_drain(client: Any, stream: str, shard_ids: list[str], expected: int) -> float:
    """Seconds for one plain reader to read every record of every shard from the start."""
    started = time.monotonic()
    seen = 0
    for shard in shard_ids:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            seen += len(page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    assert seen == expected, f"boto3 reader saw {seen} of {expected}"
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--shards", type=int, default=2)
    args = parser.parse_args()
    isolated_home()
    spec = PipelineSpec.model_validate(
        {
            "name": "bench_tp",
            "stream": {"name": "bench-tp", "endpoint_url": "embedded", "shards": args.shards},
            "app_table": {"application_name": "bench-tp-app", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {
                "checkpoint_dir": "cp",
                "sink": {"path": "out"},
                "executor_cores": args.shards + 1,
                "batch_interval_seconds": 1,
            },
        }
    )
    with LocalAws():
        backends = operations.backends_for(spec)
        report = backends.stream.ensure_stream()
        ids = unique_ids("tp", args.records)
        t0 = time.monotonic()
        put_all(backends.stream.client, spec.stream.name, ids)
        put_seconds = time.monotonic() - t0
        boto_seconds = boto3_drain(backends.stream.client, spec.stream.name, report.open_shards, args.records)
        deploy_started = time.monotonic()
        deployment = operations.deploy(spec, backends)
        record = deployment.job.record
        assert record is not None, deployment.job
        sink = resolve_path(spec.job.sink.path)
        first = None
        peak_rss = 0.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            tally = account(ids, read_output(sink))
            peak_rss = max(peak_rss, group_rss_mib(record.pid or 0))
            if tally.processed and first is None:
                first = time.monotonic()
            if tally.lost == 0:
                break
            time.sleep(0.2)
        done = time.monotonic()
        operations.stop(spec, backends, by="bench")
    assert first is not None and tally.lost == 0, tally
    # The job works in micro-batches: its reading time is the span of the batches that held
    # records, plus one batch interval; startup (JVM, KCL taking leases) is reported apart.
    batch_times = sorted(int(d.name.split("-")[1]) for d in sink.glob("batch-*") if any(d.glob("part-*")))
    interval = spec.job.batch_interval_seconds
    job_seconds = (batch_times[-1] - batch_times[0]) / 1000 + interval
    boto_rate = args.records / boto_seconds
    job_rate = args.records / job_seconds
    print(f"records                 {args.records} on {args.shards} shard(s)")
    print(f"put                     {args.records / put_seconds:,.0f} records/s")
    print(f"boto3 reader            {boto_rate:,.0f} records/s ({boto_seconds:.2f} s)")
    print(
        f"deployed job            {job_rate:,.0f} records/s ({job_seconds:.2f} s over "
        f"{len(batch_times)} batch(es) of {interval:g} s)"
    )
    print(f"deploy to first record  {first - deploy_started:.1f} s (JVM start, KCL leases, KCL's 10 s)")
    print(f"deploy to all processed {done - deploy_started:.1f} s (JVM start, KCL leases, reading)")
    print(f"ratio job/boto3         {job_rate / boto_rate:.2f}")
    print(f"duplicates              {tally.duplicates} in the output")
    print(f"re-reads dropped        {read_totals(ledger_dir(spec))['dropped']} by the delivery ledger")
    print(f"driver group peak RSS   {peak_rss:,.0f} MiB")


if __name__ == "__main__":
    main()
