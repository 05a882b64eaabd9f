"""Jobs per pipeline for the Launchpad: deploy, stop (graceful) and restart from checkpoint.
Their run config is pydantic (dg.Config), validated before anything is touched."""

from typing import Any

import dagster as dg
from pydantic import Field

from kinesis_pipelines.assembly.build import build_assembly
from kinesis_pipelines.orchestration.assets import assembly_key, resource_keys
from kinesis_pipelines.resources.kinesis import KinesisStreamResource
from kinesis_pipelines.resources.spark import SparkReceiverJobResource
from kinesis_pipelines.spec import PipelineSpec

PIPELINE_TAG = "kinesis_pipelines/pipeline"


class StopConfig(dg.Config):
    timeout_seconds: float = Field(
        90.0, gt=0, le=3600, description="Wait for the last batch before killing the driver."
    )


class RestartConfig(dg.Config):
    reason: str = Field("", max_length=500, description="Why: recorded in the run's log.")
    graceful: bool = Field(
        True,
        description="Stop the old driver with a last batch first; false kills it (a hung driver).",
    )
    expected_driver_id: str | None = Field(
        None,
        description=(
            "Restart only if this driver is still the current one (what the health sensor sends, "
            "so its request and a Dagster run retry never restart twice)."
        ),
    )


def pipeline_jobs(spec: PipelineSpec) -> list[Any]:
    name = spec.name
    keys = resource_keys(name)
    tags = {PIPELINE_TAG: name}
    deploy = dg.define_asset_job(
        name=f"{name}__deploy",
        selection=dg.AssetSelection.groups(name)
        | dg.AssetSelection.keys(assembly_key(spec.job.spark_version)),
        description=f"Create what is missing and run the streaming job of {name}.",
        tags=tags,
    )

    @dg.op(name=f"{name}__stop_driver", required_resource_keys={keys["job"]})
    def stop_driver(context: dg.OpExecutionContext, config: StopConfig) -> None:
        job: SparkReceiverJobResource = getattr(context.resources, keys["job"])
        record = job.current()
        if record is None:
            context.log.info(f"{name}: never deployed; nothing to stop")
            return
        status = job.launcher().stop_gracefully(record, timeout=config.timeout_seconds)
        context.log.info(f"{name}: driver {record.driver_id} {status.state.value}")
        context.add_output_metadata({"driver_id": record.driver_id, "state": status.state.value})

    @dg.job(name=f"{name}__stop", description=f"Stop {name}'s streaming job gracefully.", tags=tags)
    def stop() -> None:
        stop_driver()

    @dg.op(
        name=f"{name}__restart_driver",
        required_resource_keys={keys["job"], keys["stream"]},
    )
    def restart_driver(context: dg.OpExecutionContext, config: RestartConfig) -> None:
        job: SparkReceiverJobResource = getattr(context.resources, keys["job"])
        stream: KinesisStreamResource = getattr(context.resources, keys["stream"])
        if config.reason:
            context.log.info(f"{name}: restart requested: {config.reason}")
        jar = build_assembly(spec.job.spark_version, progress=context.log.info)
        result = job.deploy(
            len(stream.open_shard_ids()), jar.path, progress=context.log.info, restart=True,
            expected_driver_id=config.expected_driver_id, graceful=config.graceful,
        )
        if result.recovered_from_checkpoint:
            context.log.info(f"{name}: resumed from the Spark checkpoint {result.checkpoint_dir}")
        else:
            context.log.info(
                f"{name}: new checkpoint generation {result.record.generation}; KCL resumes each "
                "shard from the lease table"
            )
        context.add_output_metadata(
            {
                "action": result.action,
                "recovered_from_checkpoint": result.recovered_from_checkpoint,
                "driver_id": result.record.driver_id,
                "generation": result.record.generation,
                "checkpoint_dir": result.checkpoint_dir,
                "spark_ui": dg.MetadataValue.url(result.ui_url),
            }
        )

    @dg.job(
        name=f"{name}__restart",
        description=f"Restart {name}'s driver from its Spark checkpoint and KCL positions.",
        tags=tags,
    )
    def restart() -> None:
        restart_driver()

    class RebalanceConfig(dg.Config):
        dry_run: bool | None = Field(
            None, description="Plan and record only; unset uses the spec's rebalancing.dry_run."
        )

    @dg.op(name=f"{name}__rebalance_capacity", required_resource_keys=set(keys.values()))
    def rebalance_capacity(context: dg.OpExecutionContext, config: RebalanceConfig) -> None:
        from kinesis_pipelines.orchestration.rebalancing import rebalance

        outcome = rebalance(
            spec,
            getattr(context.resources, keys["stream"]),
            getattr(context.resources, keys["app_table"]),
            getattr(context.resources, keys["job"]),
            dry_run=config.dry_run,
            progress=context.log.info,
        )
        plan = outcome.plan
        context.add_output_metadata({
            "action": plan.action,
            "applied": outcome.applied,
            "reason": plan.reason,
            "shards_before": plan.shards_before,
            "shards_after": plan.shards_after,
            "steps": plan.steps,
            "receivers_before": plan.receivers_before,
            "receivers_after": plan.receivers_after,
            "cores_before": plan.cores_before,
            "cores_after": plan.cores_after,
            "utilization": plan.utilization,
            "quota_left": plan.quota_left - (len(plan.steps) if outcome.applied else 0),
            "incoming_records_per_s": round(outcome.metrics.incoming_records_per_s, 1),
            "max_lag_seconds": round(outcome.metrics.max_lag_seconds, 1),
            "metrics_source": outcome.metrics.source,
            "dry_run": plan.dry_run,
        })

    @dg.job(
        name=f"{name}__rebalance",
        description=f"Measure {name}, reshard its stream within Kinesis's limits and resize its receivers.",
        tags=tags,
    )
    def rebalance_job() -> None:
        rebalance_capacity()

    return [deploy, stop, restart, rebalance_job]


def rebalance_schedule(spec: PipelineSpec, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    policy = spec.rebalancing
    return dg.ScheduleDefinition(
        name=f"{spec.name}__rebalance_schedule",
        cron_schedule=policy.schedule,
        job=job,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if policy.enabled else dg.DefaultScheduleStatus.STOPPED
        ),
        description=f"Rebalance {spec.name}'s shards and receivers ({policy.schedule}).",
    )


def job_named(jobs: list[Any], name: str) -> dg.JobDefinition:
    return next(job for job in jobs if getattr(job, "name", "") == name)
