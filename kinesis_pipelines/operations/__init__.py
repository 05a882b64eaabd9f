"""The operations on a pipeline, with no Dagster in them: deploy, stop, restart, observe and
decide (supervise), rebalance, plan. Each takes the spec, its backends and, where time matters,
`now`. The CLI and the Dagster definitions are thin callers of these."""

from kinesis_pipelines.operations.backends import Backends, backends_for
from kinesis_pipelines.operations.deploy import (
    Deployment,
    DeployResult,
    deploy,
    deploy_job,
    ensure_app_table,
    preflight,
    restart,
    stop,
)
from kinesis_pipelines.operations.plan import PlanReport, plan
from kinesis_pipelines.operations.rebalance import RebalanceOutcome, measure, rebalance
from kinesis_pipelines.operations.supervise import Look, check_results, supervise

__all__ = [
    "Backends",
    "DeployResult",
    "Deployment",
    "Look",
    "PlanReport",
    "RebalanceOutcome",
    "backends_for",
    "check_results",
    "deploy",
    "deploy_job",
    "ensure_app_table",
    "measure",
    "plan",
    "preflight",
    "rebalance",
    "restart",
    "stop",
    "supervise",
]
