"""`kinesis-pipelines iam`: least-privilege policies per pipeline and role, for the account and
partition they will run in, linted before they are shown. The linter (parliament) is the [iam]
extra: without it the policies are made all the same, marked not linted, with a note that says
how to install it."""

from __future__ import annotations

import json
import warnings
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.errors import ExtraMissingError, SpecError
from kinesis_pipelines.extras import install_hint, require_extra
from kinesis_pipelines.planning.iam import ROLES, PipelineResources, assume_role_policy, policy_for
from kinesis_pipelines.spec import PipelineSpec


class PipelinePolicies(BaseModel):
    model_config = ConfigDict(frozen=True)

    pipeline: str
    partition: str
    account: str
    policies: dict[str, dict[str, Any]]  # role -> policy document
    findings: list[str]  # the linter's, empty when clean (or not linted)
    linted: bool = True  # False when the linter (the [iam] extra) is not installed
    notes: list[str] = []  # what the reader should know, such as why nothing was linted


def resources_of(spec: PipelineSpec) -> PipelineResources:
    return PipelineResources(
        pipeline=spec.name,
        region=spec.stream.region,
        stream=spec.stream.name,
        application=spec.app_table.application_name,
        fence_table=spec.supervision.fence_table,
    )


def partition_of(region: str) -> str:
    """The ARN partition of a region, from botocore's endpoint data (aws, aws-cn, aws-us-gov...)."""
    return boto3.session.Session().get_partition_for_region(region)


def account_of(spec: PipelineSpec, account: str | None) -> str:
    """The account the pipeline runs in: given, from the role to assume, or asked of STS."""
    if account:
        return account
    if spec.credentials.role_arn:
        return spec.credentials.role_arn.split(":")[4]
    try:
        return str(boto3.client("sts", region_name=spec.stream.region).get_caller_identity()["Account"])
    except Exception as exc:
        raise SpecError(
            f"{spec.name}: cannot tell the AWS account of the policies' ARNs ({type(exc).__name__}); "
            "pass --account 123456789012"
        ) from exc


def lint(policy: dict[str, Any]) -> list[str]:
    """parliament's findings for one policy document (empty when clean); ExtraMissingError
    without the [iam] extra."""
    require_extra("iam", "linting IAM policies", "parliament")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # parliament imports pkg_resources
            from parliament import analyze_policy_string  # type: ignore[import-untyped]
    except ImportError as exc:  # pkg_resources is gone from setuptools 81 on
        raise ExtraMissingError(
            f"linting IAM policies: parliament cannot be imported ({exc}); the [iam] extra pins what it "
            f"needs (setuptools<81 for pkg_resources): {install_hint('iam')}"
        ) from exc

    analyzed = analyze_policy_string(json.dumps(policy))
    return [f"{finding.issue}: {finding.detail}" for finding in analyzed.findings]


def pipeline_policies(spec: PipelineSpec, account: str | None = None) -> PipelinePolicies:
    partition = partition_of(spec.stream.region)
    resolved = account_of(spec, account)
    policies: dict[str, dict[str, Any]] = {
        role: policy_for(resources_of(spec), role, partition, resolved) for role in ROLES
    }
    if spec.credentials.role_arn:
        policies["assumer"] = assume_role_policy(spec.credentials.role_arn)
    findings: list[str] = []
    linted, notes = True, []
    try:
        findings = [f"{role}: {finding}" for role, policy in policies.items() for finding in lint(policy)]
    except ExtraMissingError as exc:
        linted, notes = False, [f"the policies were not linted: {exc}"]
    return PipelinePolicies(
        pipeline=spec.name, partition=partition, account=resolved, policies=policies,
        findings=findings, linted=linted, notes=notes,
    )  # fmt: skip


def readme_snippet(result: PipelinePolicies) -> str:
    """The policies as a Markdown section to paste into a runbook."""
    what: dict[str, str] = {
        "orchestrator": "the Dagster host and the CLI (the role of the webserver, daemon and code server)",
        "driver": "the Spark driver and executors (on EMR, the instance profile of the cluster's nodes, or "
        "the role in `credentials.role_arn`)",
        "producer": "whatever writes records to the stream",
        "assumer": "the identity that assumes `credentials.role_arn` (the nodes' own role)",
    }
    parts = [
        f"### IAM for pipeline `{result.pipeline}` (account {result.account}, partition {result.partition})"
    ]
    for role, policy in result.policies.items():
        parts.append(f"**{role}**: {what[role]}\n\n```json\n{json.dumps(policy, indent=2)}\n```")
    return "\n\n".join(parts) + "\n"


def principal_of(caller_arn: str) -> str:
    """The IAM principal behind an identity: an assumed-role session is its role."""
    if ":assumed-role/" in caller_arn:
        prefix, _, rest = caller_arn.partition(":assumed-role/")
        return f"{prefix.replace(':sts:', ':iam:')}:role/{rest.split('/', 1)[0]}"
    return caller_arn


def missing_permissions(results: list[dict[str, Any]]) -> list[str]:
    """What IAM's policy simulation did not allow, as `action on resource`."""
    return [
        f"{result['EvalActionName']} on {result.get('EvalResourceName') or '*'}"
        for result in results
        if result.get("EvalDecision") != "allowed"
    ]


def check_orchestrator_permissions(spec: PipelineSpec, session: Any) -> str:
    """Before anything is created: IAM simulates this host's identity against every action of
    the pipeline's orchestrator policy. AwsError naming what is missing; otherwise a sentence
    saying what was checked (or why it could not be: the identity needs
    iam:SimulatePrincipalPolicy on itself for this check)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from kinesis_pipelines.errors import AwsError

    try:
        caller = session.client("sts").get_caller_identity()
        principal = principal_of(caller["Arn"])
        policy = policy_for(
            resources_of(spec), "orchestrator", partition_of(spec.stream.region), caller["Account"]
        )
        iam = session.client("iam")
        results: list[dict[str, Any]] = []
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            extra = {} if statement["Resource"] == "*" else {"ResourceArns": [statement["Resource"]]}
            answer = iam.simulate_principal_policy(PolicySourceArn=principal, ActionNames=actions, **extra)
            results += answer["EvaluationResults"]
    except (ClientError, BotoCoreError, NotImplementedError) as exc:  # the last: an emulator's IAM
        return f"permissions not checked in advance ({exc}); grant iam:SimulatePrincipalPolicy to check them"
    missing = missing_permissions(results)
    if missing:
        raise AwsError(
            f"{spec.name}: {principal} may not {'; '.join(missing)}; attach the policy that "
            f"`kinesis-pipelines iam` writes as {spec.name}.orchestrator.json"
        )
    return f"{principal} holds every action of {spec.name}'s orchestrator policy"
