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

    return [deploy, stop, restart]


def restart_job_of(jobs: list[Any], pipeline: str) -> dg.JobDefinition:
    return next(job for job in jobs if getattr(job, "name", "") == f"{pipeline}__restart")
