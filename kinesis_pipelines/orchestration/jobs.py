"""Jobs per pipeline for the Launchpad: deploy, stop (graceful), restart from checkpoint and
rebalance. Their run config is pydantic (dg.Config), validated before anything is touched."""

import time
from typing import Any

import dagster as dg
from pydantic import Field

from kinesis_pipelines import operations
from kinesis_pipelines.orchestration.assets import assembly_key
from kinesis_pipelines.orchestration.resources import backends_from, resource_key
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
    requested_by: str = Field(
        "operator",
        description="'supervisor' when the health sensor asked: only those count against the budget.",
    )
    requested_at: float | None = Field(
        None, description="When it was asked for: refused if the operator deployed or stopped since."
    )


class RebalanceConfig(dg.Config):
    dry_run: bool | None = Field(
        None, description="Plan and record only; unset uses the spec's rebalancing.dry_run."
    )


# Each op's config schema, inferred from its class once for every pipeline (Dagster infers it again
# for every op that takes a typed `config` parameter: 300 inferences at 100 pipelines).
STOP_CONFIG_SCHEMA = StopConfig.to_config_schema().as_field()
RESTART_CONFIG_SCHEMA = RestartConfig.to_config_schema().as_field()
REBALANCE_CONFIG_SCHEMA = RebalanceConfig.to_config_schema().as_field()


def deploy_job_name(pipeline: str) -> str:
    return f"{pipeline}__deploy"


def restart_job_name(pipeline: str) -> str:
    return f"{pipeline}__restart"


def rebalance_job_name(pipeline: str) -> str:
    return f"{pipeline}__rebalance"


def pipeline_jobs(spec: PipelineSpec, spark_version: str) -> list[Any]:
    name = spec.name
    keys = {resource_key(spec)}
    tags = {PIPELINE_TAG: name}
    deploy = dg.define_asset_job(
        name=deploy_job_name(name),
        selection=dg.AssetSelection.groups(name) | dg.AssetSelection.keys(assembly_key(spark_version)),
        description=f"Create what is missing and run the streaming job of {name}.",
        tags=tags,
    )

    @dg.op(name=f"{name}__stop_driver", required_resource_keys=keys, config_schema=STOP_CONFIG_SCHEMA)
    def stop_driver(context: dg.OpExecutionContext) -> None:
        config = StopConfig(**context.op_config)
        status = operations.stop(
            spec, backends_from(context, spec), timeout=config.timeout_seconds,
            by=f"stop run {context.run_id[:8]}", progress=context.log.info,
        )  # fmt: skip
        if status is None:
            context.log.info(f"{name}: never deployed; nothing to stop")
            return
        context.log.info(f"{name}: driver {status.state.value}; recorded as stopped on request")
        context.add_output_metadata({"state": status.state.value})

    @dg.job(name=f"{name}__stop", description=f"Stop {name}'s streaming job gracefully.", tags=tags)
    def stop() -> None:
        stop_driver()

    @dg.op(name=f"{name}__restart_driver", required_resource_keys=keys, config_schema=RESTART_CONFIG_SCHEMA)
    def restart_driver(context: dg.OpExecutionContext) -> None:
        config = RestartConfig(**context.op_config)
        if config.reason:
            context.log.info(f"{name}: restart requested: {config.reason}")
        result = operations.restart(
            spec,
            backends_from(context, spec),
            expected_driver_id=config.expected_driver_id,
            graceful=config.graceful,
            requested_by="supervisor" if config.requested_by == "supervisor" else "operator",
            requested_at=config.requested_at,
            progress=context.log.info,
        )
        metadata: dict[str, object] = {
            "action": result.action,
            "reason": result.reason,
            "drained": "-" if result.drained is None else result.drained,
            "drain_relaunched": result.drain_relaunched,
            "resumed_from_delivered": result.resumed_from_delivered or "-",
        }
        if result.record is not None and result.action in ("restarted", "replaced", "started"):
            if result.recovered_from_checkpoint:
                context.log.info(f"{name}: resumed from the Spark checkpoint {result.record.checkpoint_dir}")
            else:
                context.log.info(
                    f"{name}: new checkpoint generation {result.record.generation}; KCL resumes "
                    "each shard from the lease table"
                )
            metadata.update(
                recovered_from_checkpoint=result.recovered_from_checkpoint,
                driver_id=result.record.driver_id,
                generation=result.record.generation,
                checkpoint_dir=result.record.checkpoint_dir,
                spark_ui=dg.MetadataValue.url(result.record.ui_url),
            )
        context.add_output_metadata(metadata)

    @dg.job(
        name=restart_job_name(name),
        description=f"Restart {name}'s driver from its Spark checkpoint and KCL positions.",
        tags=tags,
    )
    def restart() -> None:
        restart_driver()

    @dg.op(
        name=f"{name}__rebalance_capacity", required_resource_keys=keys, config_schema=REBALANCE_CONFIG_SCHEMA
    )
    def rebalance_capacity(context: dg.OpExecutionContext) -> None:
        config = RebalanceConfig(**context.op_config)
        outcome = operations.rebalance(
            spec, backends_from(context, spec), now=time.time(), dry_run=config.dry_run,
            progress=context.log.info,
        )  # fmt: skip
        plan = outcome.plan
        if plan is None or outcome.metrics is None:
            context.add_output_metadata({"action": "skipped", "reason": outcome.skipped or "-"})
            return
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
            "drained": "-" if outcome.drained is None else outcome.drained,
            "drain_relaunched": outcome.drain_relaunched,
            "roll": outcome.roll_reason or "-",
        })  # fmt: skip

    @dg.job(
        name=rebalance_job_name(name),
        description=f"Measure {name}, reshard its stream within Kinesis's limits and resize its receivers.",
        tags=tags,
    )
    def rebalance_job() -> None:
        rebalance_capacity()

    return [deploy, stop, restart, rebalance_job]
