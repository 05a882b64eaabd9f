"""Shared steps of the end-to-end tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.home import job_path
from kinesis_pipelines.operations import backends_for, deploy, monitoring
from kinesis_pipelines.orchestration import build_definitions
from kinesis_pipelines.producer import Accounting, account, put_all
from kinesis_pipelines.spec import PipelineSpec

SLOW = "kinesis_pipelines.app.processors:slow_passthrough"  # about 100 records/s per core
BEHIND_RATE = 300  # records/s put by start_behind: three times what SLOW takes on one core


def make_spec(name: str, shards: int, **job: Any) -> PipelineSpec:
    job_fields = {
        "checkpoint_dir": "checkpoints",
        "sink": {"path": f"output/{name}"},
        "batch_interval_seconds": 2,
        "kcl_checkpoint_interval_seconds": 1,
        "executor_cores": 3,
        **job,
    }
    return PipelineSpec.model_validate(
        {
            "name": name,
            "stream": {"name": f"s-{name}", "endpoint_url": "embedded", "shards": shards},
            "app_table": {"application_name": f"app-{name}", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": job_fields,
        }
    )


def materialize(spec: PipelineSpec, selection: str | None = None) -> dg.ExecuteInProcessResult:
    defs = build_definitions([spec])
    result = dg.materialize(
        list(defs.assets or []),  # type: ignore[arg-type]
        resources=defs.resources,
        selection=selection,
        raise_on_error=True,
    )
    assert result.success
    return result


def job_metadata(result: dg.ExecuteInProcessResult, spec: PipelineSpec) -> dict[str, Any]:
    events = result.get_asset_materialization_events()
    for event in events:
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey([spec.name, "streaming_job"]):
            return {k: v.value for k, v in materialization.metadata.items()}
    raise AssertionError("no streaming_job materialization")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def driver_work(spec: PipelineSpec, backends: Any) -> int:
    """Spark tasks the pipeline's current driver has finished (0 while it does not answer): a
    count that goes up while the driver works, however slowly a busy machine lets it."""
    record = backends.store.driver()
    tasks = monitoring.executor_tasks(backends.launcher, record) if record is not None else None
    return tasks.completed if tasks else 0


def wait_while_working(
    predicate: Callable[[], Any],
    work: Callable[[], object],
    what: str,
    quiet_seconds: float = 120.0,
    most_seconds: float = 1800.0,
) -> Any:
    """Wait for `predicate` as long as `work()` keeps changing (the driver finishing tasks, records
    coming out): a test's patience set by the progress it sees, not by a guess of the machine's
    speed. Fails after `quiet_seconds` without a change, or `most_seconds` in all."""
    started = time.monotonic()
    last, changed_at = work(), started
    while True:
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        seen = work()
        if seen != last:
            last, changed_at = seen, now
        if now - changed_at > quiet_seconds or now - started > most_seconds:
            raise AssertionError(
                f"gave up waiting for {what} after {now - started:.0f} s, the last "
                f"{now - changed_at:.0f} s with no progress (last seen: {last})"
            )
        time.sleep(0.5)


def wait_all_out(spec: PipelineSpec, ids: list[str], timeout: float = 150.0) -> Accounting:
    sink = job_path(spec.job.sink.path)  # a folder of this host (a plain path or file://)
    deadline = time.monotonic() + timeout
    while True:
        tally = account(ids, read_output(sink))
        if tally.lost == 0 or time.monotonic() > deadline:
            return tally
        time.sleep(1)


def active_receivers(spec: PipelineSpec) -> list[dict[str, Any]]:
    backends = backends_for(spec)
    record = backends.store.driver()
    assert record is not None
    return [r for r in monitoring.receivers(backends.launcher, record) if r.get("isActive")]


def records_out(spec: PipelineSpec) -> int:
    """Records in the pipeline's sink so far (duplicates included)."""
    return sum(1 for _ in read_output(job_path(spec.job.sink.path)))


def start_behind(spec: PipelineSpec, ids: list[str], rate: float = BEHIND_RATE) -> threading.Thread:
    """Deploy, wait until the receiver reads (so batches carry 2 s of records each, not one batch
    of everything put while KCL starts), then feed `ids` above the processor's rate; returns once
    the job is visibly behind (some ids out, most not)."""
    backends = backends_for(spec)
    deploy(spec, backends)
    warm, rest = ids[:20], ids[20:]
    put_all(backends.stream.client, spec.stream.name, warm)
    wait_all_out(spec, warm, timeout=180)
    producer = threading.Thread(
        target=put_all,
        args=(backends.stream.client, spec.stream.name, rest),
        kwargs={"rate_per_second": rate},
    )
    producer.start()
    sink = job_path(spec.job.sink.path)
    wait_for(lambda: sum(1 for _ in read_output(sink)) >= len(warm) + 300, 180, "the first batches out")
    return producer
