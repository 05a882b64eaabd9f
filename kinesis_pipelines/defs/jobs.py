"""Jobs per pipeline for the Launchpad: deploy (materialize everything) and stop (graceful)."""


from typing import Any

import dagster as dg

from kinesis_pipelines.defs.assets import assembly_key, resource_keys
from kinesis_pipelines.resources.spark import SparkReceiverJobResource
from kinesis_pipelines.spec import PipelineSpec


def pipeline_jobs(spec: PipelineSpec) -> list[Any]:
    name = spec.name
    deploy = dg.define_asset_job(
        name=f"{name}__deploy",
        selection=dg.AssetSelection.groups(name)
        | dg.AssetSelection.keys(assembly_key(spec.job.spark_version)),
        description=f"Create what is missing and run the streaming job of {name}.",
    )
    job_key = resource_keys(name)["job"]

    @dg.op(name=f"{name}__stop_driver", required_resource_keys={job_key})
    def stop_driver(context: dg.OpExecutionContext) -> None:
        job: SparkReceiverJobResource = getattr(context.resources, job_key)
        status = job.stop(progress=context.log.info)
        context.log.info(f"{name}: driver {status.state.value if status else 'not deployed'}")

    @dg.job(name=f"{name}__stop", description=f"Stop the streaming job of {name} gracefully.")
    def stop() -> None:
        stop_driver()

    return [deploy, stop]
