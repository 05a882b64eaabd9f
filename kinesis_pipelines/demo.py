"""The main job: a pipeline consuming Kinesis end to end on the embedded local AWS.

Starts the embedded AWS, builds the assembly, deploys the example `records` pipeline under a
fresh name, produces unique ids for `duration` seconds while showing progress, waits for the
job to catch up, stops it gracefully and accounts for every record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kinesis_pipelines import operations
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.operations import Backends, monitoring
from kinesis_pipelines.producer import account, put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec, load_spec
from kinesis_pipelines.state import resolve_path

EXAMPLE = Path(__file__).with_name("defs") / "records" / "defs.yaml"
Say = Callable[[str], None]


def demo_spec(run_id: str, shards: int) -> PipelineSpec:
    base = load_spec(EXAMPLE)
    return base.model_copy(
        update={
            "name": f"demo_{run_id}",
            "stream": base.stream.model_copy(update={"name": f"kp-demo-{run_id}", "shards": shards}),
            "app_table": base.app_table.model_copy(update={"application_name": f"kp-demo-{run_id}-app"}),
            "job": base.job.model_copy(
                update={"sink": base.job.sink.model_copy(update={"path": f"output/demo-{run_id}"})}
            ),
        }
    )


def run_demo(
    duration: float = 30.0, rate: float = 200.0, shards: int = 2, say: Say = print
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    spec = demo_spec(run_id, shards)
    started = time.monotonic()
    with LocalAws() as local:
        say(f"embedded AWS up: Kinesis {local.kinesis_endpoint}, DynamoDB {local.dynamodb_endpoint}")
        backends = operations.backends_for(spec)
        deployment = operations.deploy(spec, backends, progress=say)
        result, record = deployment.job, deployment.job.record
        assert record is not None and result.plan is not None
        submitted = record.submitted_at
        try:
            first_batch = _wait_first_batch(backends, say)
            first_batch_seconds = round(first_batch - submitted, 2)
            say(f"first batch completed {first_batch_seconds} s after submit; producing...")
            ids = unique_ids(run_id, max(1, int(duration * rate)))
            sink = resolve_path(spec.job.sink.path)
            client = backends.stream.client
            last = [0.0]

            def progress(sent: int) -> None:
                if time.monotonic() - last[0] >= 2:
                    last[0] = time.monotonic()
                    done = account(ids[:sent], read_output(sink))
                    say(f"  produced {sent:>7}  processed {done.processed:>7}")

            produce_started = time.monotonic()
            put_all(client, spec.stream.name, ids, rate_per_second=rate, progress=progress)
            produce_seconds = time.monotonic() - produce_started
            say(f"produced {len(ids)} records in {produce_seconds:.1f} s; waiting for the job")
            tally = _wait_drained(ids, sink, say)
            drained_seconds = time.monotonic() - produce_started
            stats = monitoring.streaming_statistics(backends.launcher, record) or {}
        finally:
            say("stopping the job gracefully")
            status = operations.stop(spec, backends, by="demo")
        summary = {
            "pipeline": spec.name,
            "produced": tally.produced,
            "processed": tally.processed,
            "lost": tally.lost,
            "duplicates": tally.duplicates,
            "unexpected": tally.unexpected,
            "shards": len(deployment.stream.open_shards),
            "receivers": result.plan.receivers,
            "cores": result.plan.cores,
            "master": result.plan.master,
            "batches": stats.get("numTotalCompletedBatches"),
            "submit_to_first_batch_seconds": first_batch_seconds,
            "records_per_second": round(tally.processed / drained_seconds, 1),
            "driver_exit": status.state.value if status else None,
            "assembly_jar": deployment.assembly.path,
            "assembly_cache_hit": deployment.assembly.cache_hit,
            "spark_ui": record.ui_url,
            "total_seconds": round(time.monotonic() - started, 1),
        }
    return summary


def _wait_first_batch(backends: Backends, say: Say, timeout: float = 180.0) -> float:
    record = backends.store.driver()
    assert record is not None
    deadline = time.monotonic() + timeout
    next_note = 0.0
    while time.monotonic() < deadline:
        stats = monitoring.streaming_statistics(backends.launcher, record)
        if stats and stats.get("numTotalCompletedBatches", 0) >= 1:
            return time.time()
        if time.monotonic() > next_note:
            receivers = stats.get("numActiveReceivers") if stats else None
            say(f"waiting for the first batch (active receivers: {receivers})")
            next_note = time.monotonic() + 3
        time.sleep(0.25)
    raise TimeoutError(f"no batch completed within {timeout:.0f} s")


def _wait_drained(ids: list[str], sink: Path, say: Say, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        tally = account(ids, read_output(sink))
        if tally.lost == 0 or time.monotonic() > deadline:
            return tally
        say(f"  processed {tally.processed} of {tally.produced}")
        time.sleep(2)
