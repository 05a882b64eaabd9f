"""The rebalance schedule of a pipeline. A pipeline that is not deployed, or that an operator
stopped, is skipped with the reason instead of failing a run every tick."""

import dagster as dg

from kinesis_pipelines.operations.rebalance import not_running_reason
from kinesis_pipelines.orchestration.jobs import PIPELINE_TAG, rebalance_job_name
from kinesis_pipelines.orchestration.resources import backends_from, resource_key
from kinesis_pipelines.spec import PipelineSpec


def rebalance_schedule(spec: PipelineSpec) -> dg.ScheduleDefinition:
    policy = spec.rebalancing

    @dg.schedule(
        name=f"{spec.name}__rebalance_schedule",
        cron_schedule=policy.schedule,
        job_name=rebalance_job_name(spec.name),
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if policy.enabled else dg.DefaultScheduleStatus.STOPPED
        ),
        required_resource_keys={resource_key(spec)},
        description=f"Rebalance {spec.name}'s shards and receivers ({policy.schedule}).",
    )
    def rebalance_tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        reason = not_running_reason(spec, backends_from(context, spec))
        if reason is not None:
            return dg.SkipReason(reason)
        return dg.RunRequest(tags={PIPELINE_TAG: spec.name})

    return rebalance_tick
