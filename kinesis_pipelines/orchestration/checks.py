"""Asset checks of the streaming job: healthy, lag under the limit, restarts within budget.
The health sensor reports them as it watches; run on demand they read what it last saw and
change nothing (a check never restarts, and never spends restart budget)."""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from kinesis_pipelines.operations import check_results
from kinesis_pipelines.operations.supervise import restarts_in_window
from kinesis_pipelines.orchestration.assets import job_asset_key
from kinesis_pipelines.orchestration.resources import backends_from, resource_key
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import SupervisorMemory

CHECKS = {
    "job_healthy": "The driver runs, its receivers are active and batches complete.",
    "lag_under_limit": (
        "Every shard is at most supervision.lag_limit_seconds behind; a lag that could not be measured "
        "does not pass (WARN, with the reason)."
    ),
    "no_dead_letters_waiting": (
        "No record the job could not process (not UTF-8, or in a batch that kept failing) waits in the "
        "dead-letter location; WARN until they are replayed (`kinesis-pipelines dead-letters --replay`)."
    ),
    "restarts_within_budget": "Restarts stay within the restart budget; past it the supervisor gave up.",
}


def _for_the_ui(metadata: dict[str, Any]) -> dict[str, Any]:
    """A time shows as a time, not a number Dagster would plot."""
    if "observed_at" in metadata:
        return {**metadata, "observed_at": dg.MetadataValue.timestamp(float(metadata["observed_at"] or 0))}
    return metadata


def _said(metadata: dict[str, Any]) -> str | None:
    """The outcome in words, shown beside the check: why it passed or not (a lag that could not be
    measured says so here, not as a lag of 0)."""
    reason = metadata.get("reason")
    return str(reason) if reason else None


def check_evaluations(
    spec: PipelineSpec, memory: SupervisorMemory, restarts: int
) -> list[dg.AssetCheckEvaluation]:
    return [
        dg.AssetCheckEvaluation(
            asset_key=job_asset_key(spec.name),
            check_name=name,
            passed=passed,
            severity=dg.AssetCheckSeverity(severity),
            metadata=_for_the_ui(metadata),
            description=_said(metadata),
        )
        for name, (passed, severity, metadata) in check_results(spec, memory, restarts).items()
    ]


def pipeline_checks(spec: PipelineSpec) -> list[dg.AssetChecksDefinition]:
    """The four checks of the streaming job as one definition (one look serves them all; one
    definition instead of four per pipeline keeps a large code location quick to load). Each can
    still be run alone from the UI."""
    asset = job_asset_key(spec.name)

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(name, asset=asset, description=text) for name, text in CHECKS.items()],
        name=f"{spec.name}__streaming_job_checks",
        required_resource_keys={resource_key(spec)},
        can_subset=True,
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        backends = backends_from(context, spec)
        memory = backends.store.supervisor()
        restarts = len(restarts_in_window(spec, backends, time.time()))
        outcomes = check_results(spec, memory, restarts)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.name):
            passed, severity, metadata = outcomes[key.name]
            yield dg.AssetCheckResult(
                asset_key=asset,
                check_name=key.name,
                passed=passed,
                severity=dg.AssetCheckSeverity(severity),
                metadata=_for_the_ui(metadata),
                description=_said(metadata),
            )

    return [_checks]
