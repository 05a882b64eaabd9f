"""Least-privilege IAM policies for a pipeline, one per role that acts on it. Pure: the partition
and the account are given.

- **orchestrator**: the Dagster host and the CLI. Creates, describes and reshards the stream,
  measures its lag, creates and describes the lease and fence tables, releases a dead driver's
  leases and fence, reads CloudWatch for rebalancing.
- **driver**: the Spark driver and its executors (KCL in the receivers). Reads the stream, keeps
  its leases and checkpoints in the lease table, its fence in the fence table, and publishes KCL's
  metrics in the namespace named after the application (and only there).
- **producer**: what writes records (the demo and the tests); real producers are the users'.

Every statement names exact ARNs, except for the actions IAM authorizes only on "*" (no
resource-level permissions: CloudWatch's metric calls and Kinesis's UpdateShardCount, per the AWS
Service Authorization Reference; a test checks this list against the linter's data). Those get a
statement of their own; PutMetricData is held to KCL's namespace by a condition."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["orchestrator", "driver", "producer"]
ROLES: tuple[Role, ...] = ("orchestrator", "driver", "producer")

# The actions each role makes, per resource kind (what the proof test records must be a subset).
ORCHESTRATOR_ACTIONS = {
    "stream": [
        "kinesis:CreateStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:ListShards",
        "kinesis:UpdateShardCount",
        "kinesis:IncreaseStreamRetentionPeriod",
        "kinesis:GetShardIterator",  # lag: MillisBehindLatest of one GetRecords per shard
        "kinesis:GetRecords",
    ],
    "lease_table": [
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:DeleteTable",  # `deploy --reset-app-table` only
        "dynamodb:Scan",
        "dynamodb:UpdateItem",  # releasing a dead driver's leases
    ],
    "fence_table": [  # also the control table: the pipeline's durable records (aws/control.py)
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:BatchGetItem",  # a supervisor's look reads its records in one call
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",  # breaking a dead driver's fence (its token kept)
        "dynamodb:DeleteItem",
    ],
    "metrics": ["cloudwatch:GetMetricData"],
}
DRIVER_ACTIONS = {
    "stream": [
        "kinesis:DescribeStream",  # KCL 1's fallback when listing shards; ListShards otherwise
        "kinesis:ListShards",
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
    ],
    "lease_table": [
        "dynamodb:CreateTable",  # KCL creates it when missing; a deploy creates it first
        "dynamodb:DescribeTable",
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",  # KCL drops the leases of shards read to their end
    ],
    "fence_table": [
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",  # taking the fence
        "dynamodb:UpdateItem",  # renewing and releasing it
    ],
    "metrics": ["cloudwatch:PutMetricData"],
}
PRODUCER_ACTIONS = {"stream": ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:ListShards"]}
# Item actions, limited by their partition key on the table pipelines share
ITEM_ACTIONS = frozenset(
    {
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:UpdateItem",
    }
)
# Actions IAM authorizes only with "Resource": "*"
WILDCARD_ONLY = frozenset(
    {"kinesis:UpdateShardCount", "cloudwatch:GetMetricData", "cloudwatch:PutMetricData"}
)


class PipelineResources(BaseModel):
    """What a pipeline's policies name (from its spec)."""

    model_config = ConfigDict(frozen=True)

    pipeline: str
    region: str
    stream: str
    application: str  # KCL's application: the lease table and the metrics namespace
    fence_table: str


class PipelineArns(BaseModel):
    model_config = ConfigDict(frozen=True)

    partition: str
    region: str
    account: str
    stream: str
    lease_table: str
    fence_table: str


def pipeline_arns(pipeline: PipelineResources, partition: str, account: str) -> PipelineArns:
    region = pipeline.region
    prefix = f"arn:{partition}"
    return PipelineArns(
        partition=partition,
        region=region,
        account=account,
        stream=f"{prefix}:kinesis:{region}:{account}:stream/{pipeline.stream}",
        lease_table=f"{prefix}:dynamodb:{region}:{account}:table/{pipeline.application}",
        fence_table=f"{prefix}:dynamodb:{region}:{account}:table/{pipeline.fence_table}",
    )


def policy_for(pipeline: PipelineResources, role: Role, partition: str, account: str) -> dict[str, Any]:
    """The IAM policy document for one role of one pipeline."""
    arns = pipeline_arns(pipeline, partition, account)
    actions = {"orchestrator": ORCHESTRATOR_ACTIONS, "driver": DRIVER_ACTIONS, "producer": PRODUCER_ACTIONS}[
        role
    ]
    statements: list[dict[str, Any]] = []
    sid = _sid(pipeline.pipeline)
    resources = {"stream": arns.stream, "lease_table": arns.lease_table, "fence_table": arns.fence_table}
    for kind, resource in resources.items():
        scoped = sorted(set(actions.get(kind, [])) - WILDCARD_ONLY)
        items = sorted(set(scoped) & ITEM_ACTIONS) if kind == "fence_table" else []
        table_level = sorted(set(scoped) - set(items))
        if table_level:
            statements.append(
                {"Sid": f"{sid}{_sid(kind)}", "Effect": "Allow", "Action": table_level, "Resource": resource}
            )
        if items:
            # The fence (control) table is shared by pipelines: this one may touch only its own
            # application's items (the fence `<app>`, the records `<app>#<record>`).
            statements.append(
                {
                    "Sid": f"{sid}{_sid(kind)}Items",
                    "Effect": "Allow",
                    "Action": items,
                    "Resource": resource,
                    "Condition": {
                        "ForAllValues:StringLike": {
                            "dynamodb:LeadingKeys": [pipeline.application, f"{pipeline.application}#*"]
                        }
                    },
                }
            )
    unscoped = sorted({action for listed in actions.values() for action in listed} & WILDCARD_ONLY)
    for action in unscoped:
        statement: dict[str, Any] = {
            "Sid": f"{sid}{action.split(':')[1]}",
            "Effect": "Allow",
            "Action": action,
            "Resource": "*",  # IAM authorizes this action on no narrower resource
        }
        if action == "cloudwatch:PutMetricData":
            # KCL 1 publishes in the namespace named after the application, and only there
            statement["Condition"] = {"StringEquals": {"cloudwatch:namespace": pipeline.application}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def assume_role_policy(role_arn: str) -> dict[str, Any]:
    """What the identity that assumes `credentials.role_arn` needs (the nodes' instance role)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AssumePipelineRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
        ],
    }


def _sid(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part)
