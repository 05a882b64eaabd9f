"""`kinesis-pipelines iam`: partition and account resolved, policies linted (and the linter can
fail), the identity that assumes the pipeline's role given its own policy."""

from __future__ import annotations

import sys

import pytest

from kinesis_pipelines.errors import ExtraMissingError
from kinesis_pipelines.operations.iam import lint, partition_of, pipeline_policies, resources_of
from kinesis_pipelines.planning.iam import policy_for
from kinesis_pipelines_tests.e2e.helpers import make_spec

ACCOUNT = "123456789012"


def test_partition_comes_from_botocore_data() -> None:
    assert partition_of("cn-north-1") == "aws-cn"
    assert partition_of("us-gov-west-1") == "aws-us-gov"
    spec = make_spec("orders", shards=1).model_copy(deep=True)
    china = spec.model_copy(update={"stream": spec.stream.model_copy(update={"region": "cn-north-1"})})
    result = pipeline_policies(china, ACCOUNT)
    assert result.partition == "aws-cn"
    assert "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s-orders" in str(result.policies["driver"])


@pytest.mark.parametrize("role", ["orchestrator", "driver", "producer"])
def test_generated_policies_lint_clean(role: str) -> None:
    assert lint(policy_for(resources_of(make_spec("orders", shards=1)), role, "aws", ACCOUNT)) == []  # type: ignore[arg-type]


def test_the_linter_can_fail() -> None:
    wrong = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kinesis:UpdateShardCount",
                "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/x",
            }
        ],
    }
    assert lint(wrong)


def test_without_the_iam_extra_the_policies_are_made_and_marked_not_linted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    linted = pipeline_policies(make_spec("orders", shards=1), ACCOUNT)
    monkeypatch.setitem(sys.modules, "parliament", None)  # what importlib sees when it is not installed
    result = pipeline_policies(make_spec("orders", shards=1), ACCOUNT)
    assert result.policies == linted.policies
    assert (result.linted, result.findings, linted.linted) == (False, [], True)
    assert result.notes == [
        "the policies were not linted: linting IAM policies needs parliament, from the [iam] extra, "
        "which is not installed here: pip install 'kinesis-pipelines[iam]'"
    ]
    with pytest.raises(ExtraMissingError):
        lint(result.policies["driver"])


def test_a_linter_that_cannot_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """parliament installed beside a setuptools without pkg_resources (81 on) cannot import."""
    monkeypatch.delitem(sys.modules, "parliament", raising=False)
    monkeypatch.setitem(sys.modules, "pkg_resources", None)
    with pytest.raises(ExtraMissingError, match=r"setuptools<81 for pkg_resources\): pip install"):
        lint(policy_for(resources_of(make_spec("orders", shards=1)), "driver", "aws", ACCOUNT))


def test_assumed_role_account_and_assumer_policy() -> None:
    spec = make_spec("orders", shards=1)
    role = "arn:aws:iam::210987654321:role/pipelines"
    spec = spec.model_copy(
        update={
            "credentials": spec.credentials.model_copy(update={"source": "assume_role", "role_arn": role})
        }
    )
    result = pipeline_policies(spec)
    assert result.account == "210987654321"
    assert result.policies["assumer"]["Statement"][0]["Resource"] == role
    assert result.findings == []


def test_an_assumed_role_session_is_checked_as_its_role() -> None:
    from kinesis_pipelines.operations.iam import principal_of

    assert principal_of("arn:aws:sts::123456789012:assumed-role/kp-host/i-0abc") == (
        "arn:aws:iam::123456789012:role/kp-host"
    )
    assert (
        principal_of("arn:aws-cn:sts::123456789012:assumed-role/kp/s")
        == "arn:aws-cn:iam::123456789012:role/kp"
    )
    assert principal_of("arn:aws:iam::123456789012:user/ops") == "arn:aws:iam::123456789012:user/ops"


def test_what_the_simulation_did_not_allow_is_named() -> None:
    from kinesis_pipelines.operations.iam import missing_permissions

    results = [
        {
            "EvalActionName": "kinesis:CreateStream",
            "EvalResourceName": "arn:aws:kinesis:us-east-1:1:stream/s",
            "EvalDecision": "allowed",
        },
        {
            "EvalActionName": "kinesis:UpdateShardCount",
            "EvalResourceName": "*",
            "EvalDecision": "implicitDeny",
        },
    ]
    assert missing_permissions(results) == ["kinesis:UpdateShardCount on *"]


def test_without_iam_simulation_the_check_says_so_and_lets_the_deploy_go_on() -> None:
    import boto3
    from moto import mock_aws

    from kinesis_pipelines.operations.iam import check_orchestrator_permissions

    with mock_aws():  # moto's IAM has no policy simulation
        said = check_orchestrator_permissions(
            make_spec("orders", shards=1), boto3.session.Session(region_name="us-east-1")
        )
    assert said.startswith("permissions not checked in advance"), said
    assert "iam:SimulatePrincipalPolicy" in said
