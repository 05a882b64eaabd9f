"""The health sensor of a pipeline: every 5 s it looks at the job; it records what it saw on the
streaming-job asset (observations Dagster plots over time) and reports the asset checks when that
changed or a minute has passed, and asks
for a restart run when the job failed or stalled and the restart policy allows one. A job
stopped on request is left alone."""

import dagster as dg

from kinesis_pipelines import operations
from kinesis_pipelines.orchestration.assets import job_asset_key, output_asset_key
from kinesis_pipelines.orchestration.checks import check_evaluations
from kinesis_pipelines.orchestration.jobs import PIPELINE_TAG, restart_job_name
from kinesis_pipelines.orchestration.metadata import for_the_ui, look_metadata
from kinesis_pipelines.orchestration.resources import backends_from, resource_key
from kinesis_pipelines.spec import PipelineSpec

HEALTH_SECONDS = 5


def health_sensor(spec: PipelineSpec) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{spec.name}__health",
        job_name=restart_job_name(spec.name),
        minimum_interval_seconds=HEALTH_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={resource_key(spec)},
        description=(
            f"Watches {spec.name}'s driver, receivers, batches and lag; restarts it from its "
            "checkpoints when it fails or stalls, within the restart policy."
        ),
    )
    def health(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        look = operations.supervise(spec, backends_from(context, spec))
        if look.driver_id is None:
            return dg.SkipReason(f"{spec.name}: not deployed")
        metadata = for_the_ui(look_metadata(look))
        events: list[dg.AssetObservation | dg.AssetCheckEvaluation | dg.AssetMaterialization] = []
        if look.record:  # on a change, else about once a minute: bounded events per pipeline
            events.append(dg.AssetObservation(asset_key=job_asset_key(spec.name), metadata=metadata))
            events += check_evaluations(spec, look.memory, look.restarts_in_window)
        if look.output_report is not None:
            report = look.output_report
            events.append(
                dg.AssetMaterialization(
                    asset_key=output_asset_key(spec.name),
                    metadata={
                        "last_batch_time": dg.MetadataValue.timestamp(report.last_batch_time),
                        "completed_batches": report.completed_batches,
                    },
                )
            )
        if look.decision is not None:
            context.log.info(
                f"{spec.name}: {look.verdict.health.value} ({look.verdict.reason}); {look.decision.reason}"
            )
        run_requests = []
        if look.request_restart:
            requested_at = look.memory.restart_requested_at
            run_requests.append(
                dg.RunRequest(
                    run_key=f"{look.driver_id}-restart-{requested_at:.0f}",
                    run_config={
                        "ops": {
                            f"{spec.name}__restart_driver": {
                                "config": {
                                    "reason": f"{look.verdict.health.value}: {look.verdict.reason}",
                                    "expected_driver_id": look.driver_id,
                                    # a hung driver cannot finish a last batch: kill it
                                    "graceful": look.verdict.health.value != "stalled",
                                    "requested_by": "supervisor",
                                    "requested_at": requested_at,
                                }
                            }
                        }
                    },
                    tags={
                        PIPELINE_TAG: spec.name,
                        "kinesis_pipelines/health": look.verdict.health.value,
                        "kinesis_pipelines/failure": look.memory.failure or "-",
                    },
                )
            )
        return dg.SensorResult(run_requests=run_requests, asset_events=events)

    return health
