"""Assets of a pipeline: the stream, the application table, the shared assembly jar, the job."""

from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from kinesis_pipelines import operations, versions
from kinesis_pipelines.assembly.build import build_assembly
from kinesis_pipelines.home import job_path
from kinesis_pipelines.operations import startup
from kinesis_pipelines.orchestration.resources import backends_from, resource_key
from kinesis_pipelines.planning.health import output_freshness
from kinesis_pipelines.spec import PipelineSpec

ASSEMBLY_GROUP = "kinesis_asl"


def assembly_key(spark_version: str) -> dg.AssetKey:
    return dg.AssetKey(["kinesis_asl_assembly", "spark_" + spark_version.replace(".", "_")])


def job_asset_key(pipeline: str) -> dg.AssetKey:
    return dg.AssetKey([pipeline, "streaming_job"])


def assembly_asset(spark_version: str) -> dg.AssetsDefinition:
    """The kinesis-asl assembly for one Spark version, shared by every pipeline on it."""

    @dg.asset(
        key=assembly_key(spark_version),
        group_name=ASSEMBLY_GROUP,
        kinds={"spark", "maven"},
        description=(
            f"Spark {spark_version}'s Kinesis connector and its dependencies minus what Spark "
            "provides, built with Maven and cached by content."
        ),
    )
    def kinesis_asl_assembly(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        jar = build_assembly(spark_version, progress=context.log.info)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(jar.path),
                "sha256": jar.sha256,
                "size_bytes": jar.size_bytes,
                "spark_version": jar.spark_version,
                "scala_binary_version": jar.scala_binary_version,
                "connector": jar.connector,
                "kcl_version": jar.kcl_version,
                "aws_sdk_version": jar.aws_sdk_version,
                "python_helper_class": versions.PYTHON_HELPER_CLASS,
                "cache_hit": jar.cache_hit,
                "build_seconds": jar.build_seconds,
            }
        )

    return kinesis_asl_assembly


class AppTableConfig(dg.Config):
    reset_app_table: bool = Field(
        False,
        description=(
            "Delete and recreate a lease table that does not match the stream. Forgets every "
            "shard's position: the job restarts from its initial position."
        ),
    )


def pipeline_assets(spec: PipelineSpec, spark_version: str) -> list[dg.AssetsDefinition]:
    name = spec.name
    keys = {resource_key(spec)}
    common: dict[str, Any] = {"group_name": name, "owners": spec.owners or None}

    @dg.asset(
        key=[name, "stream"],
        kinds={"kinesis"},
        description=f"Kinesis stream {spec.stream.name}: created if missing, never resharded here.",
        required_resource_keys=keys,
        **common,
    )
    def stream(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        backends = backends_from(context, spec)
        operations.preflight(spec, backends, progress=context.log.info)  # before anything is created
        report = backends.stream.ensure_stream(progress=context.log.info)
        if report.drift:
            context.log.warning(report.drift)
        return dg.MaterializeResult(
            metadata={
                "stream_arn": report.arn,
                "created": report.created,
                "open_shards": len(report.open_shards),
                "open_shard_ids": report.open_shards,
                "capacity_mode": report.capacity_mode,
                "retention_hours": report.retention_hours,
                "drift": report.drift or "none",
            }
        )

    @dg.asset(
        key=[name, "app_table"],
        kinds={"dynamodb"},
        deps=[stream],
        description=(
            f"KCL lease and checkpoint table {spec.app_table.application_name}: created on-demand "
            "if missing; checked against the stream if present."
        ),
        required_resource_keys=keys,
        **common,
    )
    def app_table(context: dg.AssetExecutionContext, config: AppTableConfig) -> dg.MaterializeResult:
        backends = backends_from(context, spec)
        stream_report = backends.stream.ensure_stream(progress=context.log.info)
        report = operations.ensure_app_table(
            spec, backends, stream_report, config.reset_app_table, context.log.info
        )
        return dg.MaterializeResult(
            metadata={
                "table": report.table,
                "created": report.created,
                "reset": report.reset,
                "billing_mode": report.billing_mode,
                "leases": len(report.leases),
                "checkpoints": {lease.shard_id: lease.checkpoint or "-" for lease in report.leases},
            }
        )

    @dg.asset(
        key=job_asset_key(name),
        kinds={"spark"},
        deps=[stream, app_table, assembly_key(spark_version)],
        description=(
            f"The Spark Streaming job reading {spec.stream.name} with one receiver per open shard "
            "(bounded by max receivers and cores). Same spec while it runs: unchanged; changed "
            "spec: the old generation drains (every batch it received is processed), then a new "
            "checkpoint generation starts."
        ),
        required_resource_keys=keys,
        **common,
    )
    def streaming_job(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        backends = backends_from(context, spec)
        before = startup.lease_counters(backends)
        result = operations.deploy_job(spec, backends, progress=context.log.info)
        if result.record is None or result.plan is None:  # a stop recorded meanwhile, on any host
            raise dg.Failure(description=result.reason, metadata={"action": result.action})
        context.log.info(result.plan.reason)
        waited = startup.wait_after_deploy(backends, before, result.action, progress=context.log.info)
        if isinstance(waited, str):
            context.log.warning(waited)
        leases_taken: float | str = waited.seconds if isinstance(waited, startup.LeasesTaken) else "-"
        return dg.MaterializeResult(
            metadata={
                "action": result.action,
                "driver_id": result.record.driver_id,
                "application_id": result.application_id or "-",
                "spark_ui": dg.MetadataValue.url(result.record.ui_url),
                "checkpoint_dir": dg.MetadataValue.path(result.record.checkpoint_dir),
                "generation": result.record.generation,
                "receivers": result.plan.receivers,
                "cores": result.plan.cores,
                "master": result.plan.master,
                "plan": result.plan.reason,
                "replaced_generation": result.replaced_generation or "-",
                # leaving the old generation: drained (yes/no, "-" with nothing to drain), launched
                # again from its checkpoint to drain, and what happened
                "drained": "-" if result.drained is None else result.drained,
                "drain_relaunched": result.drain_relaunched,
                "resumed_from_delivered": result.resumed_from_delivered or "-",
                "reason": result.reason,
                "driver_log": dg.MetadataValue.path(result.record.log_location),
                "leases_taken_after_seconds": leases_taken,
            }
        )

    return [stream, app_table, streaming_job, output_asset(spec)]


def output_asset_key(pipeline: str) -> dg.AssetKey:
    return dg.AssetKey([pipeline, "output"])


def output_asset(spec: PipelineSpec) -> dg.AssetSpec:
    """The pipeline's output dataset. The streaming job writes it continuously; the health sensor
    records a materialization when batches completed since the last one (bounded, see
    `planning.health.output_freshness`), so Dagster's freshness policy tells a job that stopped
    delivering from one that runs."""
    freshness = output_freshness(spec.job.batch_interval_seconds, spec.supervision.stall_batches)
    return dg.AssetSpec(
        key=output_asset_key(spec.name),
        deps=[job_asset_key(spec.name)],
        kinds={"files"},
        description=(
            f"What {spec.name}'s processor writes, one folder per batch, at {job_path(spec.job.sink.path)}"
        ),
        metadata={"path": dg.MetadataValue.path(job_path(spec.job.sink.path))},
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(seconds=freshness.fail_seconds),
            warn_window=timedelta(seconds=freshness.warn_seconds),
        ),
        group_name=spec.name,
    )
