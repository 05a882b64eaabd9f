"""Rebalancing one pipeline: measure, plan (pure, planning/reshard.py), apply, record.

Applying a plan reshards the stream step by step (UpdateShardCount, waiting for ACTIVE after
each), then rolls the job to the matching receivers: a graceful stop and a new checkpoint
generation, with the KCL leases carrying every shard's position across the switch."""

import time
from collections.abc import Callable

from pydantic import BaseModel

from kinesis_pipelines.assembly.build import build_assembly
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch.submit import pipeline_dir
from kinesis_pipelines.orchestration.supervision import lag_per_shard
from kinesis_pipelines.planning.reshard import DAY_SECONDS, Metrics, RebalancePlan, plan_rebalance
from kinesis_pipelines.resources.dynamodb import DynamoDBAppTableResource
from kinesis_pipelines.resources.kinesis import KinesisStreamResource
from kinesis_pipelines.resources.spark import SparkReceiverJobResource
from kinesis_pipelines.spec import PipelineSpec

MEASURE_WINDOW_SECONDS = 30.0
Progress = Callable[[str], None]


class ReshardHistory(BaseModel):
    calls: list[float] = []
    last_change_at: float | None = None


class RebalanceOutcome(BaseModel):
    plan: RebalancePlan
    metrics: Metrics
    applied: bool
    generation: str | None = None


def history_path(pipeline: str):  # type: ignore[no-untyped-def]
    return pipeline_dir(pipeline) / "reshards.json"


def load_history(pipeline: str) -> ReshardHistory:
    path = history_path(pipeline)
    return ReshardHistory.model_validate_json(path.read_text()) if path.exists() else ReshardHistory()


def save_history(pipeline: str, history: ReshardHistory) -> None:
    path = history_path(pipeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.model_dump_json(indent=2))


def cloudwatch_metrics(spec: PipelineSpec, window: float = 300.0) -> Metrics | None:
    """AWS/Kinesis IncomingRecords, IncomingBytes and GetRecords.IteratorAgeMilliseconds over the
    last `window` seconds, or None where CloudWatch has none for the stream (the emulators)."""
    from datetime import datetime, timedelta, timezone

    from botocore.exceptions import BotoCoreError, ClientError

    from kinesis_pipelines.aws import make_client, resolve_connection

    end = datetime.now(timezone.utc)
    dimensions = [{"Name": "StreamName", "Value": spec.stream.name}]

    def query(name: str, stat: str) -> dict:
        return {
            "Id": name.replace(".", "_").lower(),
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Kinesis", "MetricName": name, "Dimensions": dimensions},
                "Period": 60,
                "Stat": stat,
            },
        }

    try:
        client = make_client("cloudwatch", resolve_connection(spec))
        response = client.get_metric_data(
            MetricDataQueries=[
                query("IncomingRecords", "Sum"),
                query("IncomingBytes", "Sum"),
                query("GetRecords.IteratorAgeMilliseconds", "Maximum"),
            ],
            StartTime=end - timedelta(seconds=window),
            EndTime=end + timedelta(seconds=60),
        )
    except (BotoCoreError, ClientError, KinesisPipelinesError):
        return None
    values = {r["Id"]: r.get("Values", []) for r in response["MetricDataResults"]}
    if not values.get("incomingrecords"):
        return None
    per_minute_records = max(values["incomingrecords"])
    per_minute_bytes = max(values.get("incomingbytes") or [0.0])
    return Metrics(
        incoming_records_per_s=per_minute_records / 60,
        incoming_bytes_per_s=per_minute_bytes / 60,
        max_lag_seconds=max(values.get("getrecords_iteratoragemilliseconds") or [0.0]) / 1000,
        source="cloudwatch AWS/Kinesis (busiest minute)",
    )


def measure(
    spec: PipelineSpec,
    stream: KinesisStreamResource,
    app_table: DynamoDBAppTableResource,
    job: SparkReceiverJobResource,
    window: float = MEASURE_WINDOW_SECONDS,
) -> Metrics:
    """CloudWatch's AWS/Kinesis metrics where there are any; otherwise incoming records/s from
    the driver's completed batches over the last `window` seconds and the worst shard lag from
    the lease table's checkpoints (the embedded AWS publishes no AWS/Kinesis metrics)."""
    from_cloudwatch = cloudwatch_metrics(spec)
    if from_cloudwatch is not None:
        return from_cloudwatch
    batches = job.monitoring("streaming/batches?status=COMPLETED", 3.0) or []
    now_ms = time.time() * 1000
    recent = [b for b in batches if now_ms - _epoch_ms(b["batchTime"]) <= window * 1000]
    records = sum(int(b.get("inputSize", 0)) for b in recent)
    lag = lag_per_shard(stream, app_table)
    return Metrics(
        incoming_records_per_s=records / window,
        max_lag_seconds=max(lag.values(), default=0) / 1000,
        source=f"spark batches over {window:.0f} s; lease-table lag",
    )


def rebalance(
    spec: PipelineSpec,
    stream: KinesisStreamResource,
    app_table: DynamoDBAppTableResource,
    job: SparkReceiverJobResource,
    dry_run: bool | None = None,
    metrics: Metrics | None = None,
    progress: Progress | None = None,
) -> RebalanceOutcome:
    say = progress or (lambda _m: None)
    now = time.time()
    history = load_history(spec.name)
    summary = stream.describe() or {}
    mode = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    open_shards = len(stream.open_shard_ids())
    metrics = metrics or measure(spec, stream, app_table, job)
    policy = spec.rebalancing
    if dry_run is not None:
        policy = policy.model_copy(update={"dry_run": dry_run})
    plan = plan_rebalance(
        policy, metrics, open_shards, mode,
        calls_in_last_day=[t for t in history.calls if now - t < DAY_SECONDS],
        last_change_at=history.last_change_at, now=now,
        max_receivers=spec.job.max_receivers, executor_cores=spec.job.executor_cores,
        processing_cores=spec.job.processing_cores, master=spec.job.master,
    )
    say(plan.reason)
    if plan.action not in ("scale_up", "scale_down") or plan.dry_run:
        return RebalanceOutcome(plan=plan, metrics=metrics, applied=False)
    for target in plan.steps:
        say(f"{spec.name}: UpdateShardCount {stream.stream_name} → {target}")
        stream.update_shard_count(target)
        history.calls.append(time.time())
        history.last_change_at = time.time()
        save_history(spec.name, history)
        stream.wait_active(say, timeout=300)
    jar = build_assembly(spec.job.spark_version, progress=say)
    result = job.deploy(len(stream.open_shard_ids()), jar.path, progress=say)
    return RebalanceOutcome(plan=plan, metrics=metrics, applied=True,
                            generation=result.record.generation)


def _epoch_ms(batch_time: str) -> float:
    from datetime import datetime

    return datetime.strptime(batch_time.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000
