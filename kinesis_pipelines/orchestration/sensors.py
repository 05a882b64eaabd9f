"""Sensors per pipeline: observations of the running job, recorded on its asset over time."""

import time

import dagster as dg
import requests

from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch.base import DriverState
from kinesis_pipelines.orchestration.assets import resource_keys
from kinesis_pipelines.resources.dynamodb import DynamoDBAppTableResource
from kinesis_pipelines.resources.kinesis import KinesisStreamResource
from kinesis_pipelines.resources.spark import SparkReceiverJobResource
from kinesis_pipelines.spec import PipelineSpec

OBSERVE_SECONDS = 30


def observe_job(
    spec: PipelineSpec,
    stream: KinesisStreamResource,
    app_table: DynamoDBAppTableResource,
    job: SparkReceiverJobResource,
) -> dict[str, object] | None:
    """Receivers, cores, rates, lag per shard and the last batch of a running job; None if no
    job runs."""
    record, status = job.status()
    if record is None or status is None or status.state is not DriverState.RUNNING:
        return None
    stats = job.streaming_statistics() or {}
    last_batch = _last_completed_batch(job)
    lag: dict[str, int | None] = {}
    try:
        for lease in app_table.leases():
            lag[lease.shard_id] = stream.millis_behind(lease.shard_id, lease.checkpoint)
    except KinesisPipelinesError:
        pass
    known = [value for value in lag.values() if value is not None]
    return {
        "receivers": record.receivers,
        "active_receivers": stats.get("numActiveReceivers", 0),
        "cores": record.cores,
        "input_rate_records_per_s": round(float(stats.get("avgInputRate", 0.0)), 2),
        "avg_processing_ms": stats.get("avgProcessingTime", 0) or 0,
        "avg_scheduling_delay_ms": stats.get("avgSchedulingDelay", 0) or 0,
        "completed_batches": stats.get("numTotalCompletedBatches", 0),
        "last_completed_batch": last_batch or "-",
        "max_lag_ms": max(known) if known else 0,
        "lag_ms_per_shard": {shard: value if value is not None else -1 for shard, value in lag.items()},
        "generation": record.generation,
        "spark_ui": dg.MetadataValue.url(record.ui_url),
        "observed_at": time.time(),
    }


def observation_sensor(spec: PipelineSpec) -> dg.SensorDefinition:
    keys = resource_keys(spec.name)

    @dg.sensor(
        name=f"{spec.name}__observe",
        minimum_interval_seconds=OBSERVE_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys=set(keys.values()),
        description=f"Records receivers, input rate, lag per shard and the last batch of {spec.name}.",
    )
    def observe(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        metadata = observe_job(
            spec,
            getattr(context.resources, keys["stream"]),
            getattr(context.resources, keys["app_table"]),
            getattr(context.resources, keys["job"]),
        )
        if metadata is None:
            return dg.SkipReason(f"{spec.name}: no streaming job running")
        return dg.SensorResult(
            asset_events=[
                dg.AssetObservation(asset_key=[spec.name, "streaming_job"], metadata=metadata)
            ]
        )

    return observe


def _last_completed_batch(job: SparkReceiverJobResource) -> str | None:
    record = job.current()
    if record is None:
        return None
    try:
        apps = requests.get(f"{record.ui_url}/api/v1/applications", timeout=3).json()
        batches = requests.get(
            f"{record.ui_url}/api/v1/applications/{apps[0]['id']}/streaming/batches",
            params={"status": "COMPLETED"},
            timeout=3,
        ).json()
    except (requests.RequestException, ValueError, IndexError, KeyError):
        return None
    return batches[0]["batchTime"] if batches else None
