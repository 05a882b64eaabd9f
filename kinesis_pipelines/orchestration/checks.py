"""Asset checks of the streaming job: healthy, lag under the limit, restarts within budget.
The health sensor reports them as it watches; they can also be run on demand."""

import time

import dagster as dg

from kinesis_pipelines.orchestration.assets import resource_keys
from kinesis_pipelines.orchestration.supervision import SupervisorState, load_state, supervise
from kinesis_pipelines.spec import PipelineSpec

HEALTHY, LAG, BUDGET = "job_healthy", "lag_under_limit", "restarts_within_budget"


def check_results(spec: PipelineSpec, state: SupervisorState) -> dict[str, tuple[bool, dict]]:
    """Each check's pass/fail and metadata from the supervisor's last look."""
    limit_ms = spec.supervision.lag_limit_seconds * 1000
    worst = max(state.lag_ms_per_shard.values(), default=0)
    window = spec.supervision.restart.window_seconds
    recent = [t for t in state.restarts if time.time() - t <= window]
    return {
        HEALTHY: (
            state.health == "healthy",
            {"health": state.health, "reason": state.reason, "failure": state.failure or "-"},
        ),
        LAG: (
            worst <= limit_ms,
            {"max_lag_ms": worst, "limit_ms": limit_ms, "lag_ms_per_shard": state.lag_ms_per_shard},
        ),
        BUDGET: (
            state.gave_up is None and len(recent) <= spec.supervision.restart.budget,
            {"restarts_in_window": len(recent), "budget": spec.supervision.restart.budget,
             "gave_up": state.gave_up or "-"},
        ),
    }


def check_evaluations(
    spec: PipelineSpec, state: SupervisorState, asset_key: dg.AssetKey
) -> list[dg.AssetCheckEvaluation]:
    return [
        dg.AssetCheckEvaluation(asset_key=asset_key, check_name=name, passed=passed,
                                metadata=metadata)
        for name, (passed, metadata) in check_results(spec, state).items()
    ]


def pipeline_checks(spec: PipelineSpec) -> list[dg.AssetChecksDefinition]:
    keys = resource_keys(spec.name)
    asset_key = dg.AssetKey([spec.name, "streaming_job"])

    def make(name: str, description: str) -> dg.AssetChecksDefinition:
        @dg.asset_check(
            asset=asset_key, name=name, description=description,
            required_resource_keys=set(keys.values()),
        )
        def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            supervise(
                spec,
                getattr(context.resources, keys["stream"]),
                getattr(context.resources, keys["app_table"]),
                getattr(context.resources, keys["job"]),
            )
            passed, metadata = check_results(spec, load_state(spec.name))[name]
            return dg.AssetCheckResult(passed=passed, metadata=metadata)

        return _check

    return [
        make(HEALTHY, "The driver runs, its receivers are active and batches complete."),
        make(LAG, f"Every shard is at most {spec.supervision.lag_limit_seconds:.0f} s behind."),
        make(BUDGET, "Restarts stay within the restart budget; past it the supervisor gave up."),
    ]
