"""The main job: a pipeline consuming Kinesis end to end on the embedded local AWS.

Starts the embedded AWS, builds the assembly, deploys the example `records` pipeline under a
fresh name, produces unique ids for `duration` seconds from the moment the driver is up while
showing progress, waits for the job to catch up, stops it gracefully and accounts for every record:
lost, duplicated in the output, and duplicates the delivery ledger dropped on the way.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations import Backends, monitoring, startup
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
        ids = unique_ids(run_id, max(1, int(duration * rate)))
        sink = resolve_path(spec.job.sink.path)
        # Records go in from the moment the driver is up, so the figures below show how long a
        # fresh deploy takes to deliver, not only to complete an (empty) batch.
        producer = _Producer(backends.stream.client, spec.stream.name, ids, rate)
        try:
            producer.start()
            leases = startup.wait_for_leases(backends, deployment.stream.open_shards, progress=say)
            first_batch = _wait_first_batch(backends, say)
            say(f"first batch completed {first_batch - submitted:.1f} s after submit")
            first_record = _wait_first_record(sink, say)
            say(f"first record delivered {first_record - submitted:.1f} s after submit")
            tally = _watch(producer, ids, sink, say)
            drained_seconds = time.monotonic() - producer.started
            stats = monitoring.streaming_statistics(backends.launcher, record) or {}
        finally:
            producer.join()
            say("stopping the job gracefully")
            status = operations.stop(spec, backends, by="demo")
        ledger = read_totals(ledger_dir(spec))
        summary = {
            "pipeline": spec.name,
            "produced": tally.produced,
            "processed": tally.processed,
            "lost": tally.lost,
            "duplicates": tally.duplicates,
            "duplicates_dropped_by_ledger": ledger["dropped"],
            "unexpected": tally.unexpected,
            "shards": len(deployment.stream.open_shards),
            "receivers": result.plan.receivers,
            "cores": result.plan.cores,
            "master": result.plan.master,
            "batches": stats.get("numTotalCompletedBatches"),
            "submit_to_leases_taken_seconds": round(leases.taken_at - submitted, 2),
            "submit_to_first_batch_seconds": round(first_batch - submitted, 2),
            "submit_to_first_record_seconds": round(first_record - submitted, 2),
            "records_per_second": round(tally.processed / drained_seconds, 1),
            "driver_exit": status.state.value if status else None,
            "assembly_jar": deployment.assembly.path,
            "assembly_cache_hit": deployment.assembly.cache_hit,
            "spark_ui": record.ui_url,
            "total_seconds": round(time.monotonic() - started, 1),
        }
    return summary


class _Producer(threading.Thread):
    """Puts the ids at the given rate in the background, counting what it has sent."""

    def __init__(self, client: Any, stream: str, ids: list[str], rate: float) -> None:
        super().__init__(daemon=True, name="demo-producer")
        self.client, self.stream, self.ids, self.rate = client, stream, ids, rate
        self.sent = 0
        self.started = time.monotonic()
        self.error: BaseException | None = None

    def run(self) -> None:
        self.started = time.monotonic()
        try:
            put_all(self.client, self.stream, self.ids, rate_per_second=self.rate, progress=self._count)
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def _count(self, sent: int) -> None:
        self.sent = sent


def _wait_first_record(sink: Path, say: Say, timeout: float = 180.0) -> float:
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 3
    while time.monotonic() < deadline:
        if next(read_output(sink), None) is not None:
            return time.time()
        if time.monotonic() > next_note:
            say("waiting for the first record in the sink")
            next_note = time.monotonic() + 3
        time.sleep(0.2)
    raise TimeoutError(f"no record reached the sink within {timeout:.0f} s")


def _watch(producer: _Producer, ids: list[str], sink: Path, say: Say, timeout: float = 120.0) -> Any:
    """Progress every 2 s while producing, then until every record arrived or `timeout` passed."""
    deadline: float | None = None
    while True:
        tally = account(ids, read_output(sink))
        if producer.error is not None:
            raise producer.error
        if producer.is_alive():
            say(f"  produced {producer.sent:>7}  processed {tally.processed:>7}")
        else:
            if tally.lost == 0:
                return tally
            deadline = deadline or time.monotonic() + timeout
            if time.monotonic() > deadline:
                return tally
            say(f"  processed {tally.processed} of {tally.produced}")
        time.sleep(2)


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
