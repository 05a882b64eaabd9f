"""The health sensor of a pipeline: every 5 s it looks at the job, records what it saw on the
streaming-job asset (observations Dagster plots over time), reports the asset checks, and asks
for a restart run when the job failed or stalled and the restart policy allows one."""

import dagster as dg

from kinesis_pipelines.orchestration.assets import resource_keys
from kinesis_pipelines.orchestration.checks import check_evaluations
from kinesis_pipelines.orchestration.jobs import PIPELINE_TAG
from kinesis_pipelines.orchestration.supervision import supervise
from kinesis_pipelines.spec import PipelineSpec

HEALTH_SECONDS = 5


def health_sensor(spec: PipelineSpec, restart_job: dg.JobDefinition) -> dg.SensorDefinition:
    keys = resource_keys(spec.name)
    asset_key = dg.AssetKey([spec.name, "streaming_job"])

    @dg.sensor(
        name=f"{spec.name}__health",
        job=restart_job,
        minimum_interval_seconds=HEALTH_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys=set(keys.values()),
        description=(
            f"Watches {spec.name}'s driver, receivers, batches and lag; restarts it from its "
            "checkpoints when it fails or stalls, within the restart policy."
        ),
    )
    def health(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        look = supervise(
            spec,
            getattr(context.resources, keys["stream"]),
            getattr(context.resources, keys["app_table"]),
            getattr(context.resources, keys["job"]),
        )
        if look.driver_id is None:
            return dg.SkipReason(f"{spec.name}: not deployed")
        metadata = {**look.metadata}
        if "spark_ui" in metadata:
            metadata["spark_ui"] = dg.MetadataValue.url(str(metadata["spark_ui"]))
        events: list = [dg.AssetObservation(asset_key=asset_key, metadata=metadata)]
        events += check_evaluations(spec, look.state, asset_key)
        run_requests = []
        decision = look.decision
        if decision is not None:
            context.log.info(f"{spec.name}: {look.verdict.health.value} ({look.verdict.reason}); "
                             f"{decision.reason}")
        if decision is not None and decision.restart:
            attempt = len(look.state.restarts)
            run_requests.append(
                dg.RunRequest(
                    run_key=f"{look.driver_id}-restart-{attempt}",
                    run_config={
                        "ops": {
                            f"{spec.name}__restart_driver": {
                                "config": {
                                    "reason": f"{look.verdict.health.value}: {look.verdict.reason}",
                                    "expected_driver_id": look.driver_id,
                                    # a hung driver cannot finish a last batch: kill it
                                    "graceful": look.verdict.health.value != "stalled",
                                }
                            }
                        }
                    },
                    tags={
                        PIPELINE_TAG: spec.name,
                        "kinesis_pipelines/health": look.verdict.health.value,
                        "kinesis_pipelines/failure": look.state.failure or "-",
                    },
                )
            )
        return dg.SensorResult(run_requests=run_requests, asset_events=events)

    return health
