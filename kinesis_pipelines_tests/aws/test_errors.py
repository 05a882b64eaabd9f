"""botocore's failures become the package's typed errors, each naming the call and the fix."""

from __future__ import annotations

import socket

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from kinesis_pipelines.aws.dynamodb import AppTable
from kinesis_pipelines.aws.errors import aws_error, error_code, has_code
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.errors import (
    AwsAccessDeniedError,
    AwsError,
    AwsThrottledError,
    AwsUnreachableError,
)


def answered(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeStreamSummary")


@pytest.mark.parametrize(
    ("code", "kind", "fix"),
    [
        ("AccessDeniedException", AwsAccessDeniedError, "kinesis-pipelines iam SPEC"),
        ("UnrecognizedClientException", AwsAccessDeniedError, "not valid"),
        ("ExpiredTokenException", AwsAccessDeniedError, "not valid"),
        ("LimitExceededException", AwsThrottledError, "higher quota"),
        ("ProvisionedThroughputExceededException", AwsThrottledError, "try again later"),
        ("ResourceInUseException", AwsError, "once it is ACTIVE"),
    ],
)
def test_an_answered_failure_names_the_call_the_code_and_the_fix(
    code: str, kind: type[AwsError], fix: str
) -> None:
    error = aws_error(answered(code, "said by AWS"), "describing stream 'orders'", "kinesis")
    assert type(error) is kind
    assert str(error).startswith(f"describing stream 'orders' failed ({code}: said by AWS)")
    assert fix in str(error)


def test_an_unknown_code_is_a_plain_aws_error_with_aws_own_words() -> None:
    error = aws_error(answered("ValidationException", "1 validation error"), "putting records", "kinesis")
    assert type(error) is AwsError
    assert str(error) == "putting records failed (ValidationException: 1 validation error)"


def test_no_answer_names_the_setting_of_the_endpoint() -> None:
    unreachable = EndpointConnectionError(endpoint_url="https://127.0.0.1:1")
    error = aws_error(unreachable, "reading the leases of 'orders-app'", "dynamodb")
    assert isinstance(error, AwsUnreachableError)
    assert "check app_table.endpoint_url and that the endpoint is up" in str(error)
    assert error_code(unreachable) is None


def test_codes_are_read_from_the_answer() -> None:
    failure = answered("ConditionalCheckFailedException")
    assert has_code(failure, "ResourceNotFoundException", "ConditionalCheckFailedException")
    assert not has_code(failure, "ResourceNotFoundException")
    assert not has_code(ValueError("not an AWS failure"), "ConditionalCheckFailedException")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_of(service: str) -> object:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )


def test_a_stream_whose_endpoint_is_down_says_which_setting_to_check() -> None:
    stream = KinesisStream(client_of("kinesis"), "orders", shards=1)
    with pytest.raises(AwsUnreachableError, match=r"while describing stream 'orders' .*stream\.endpoint_url"):
        stream.describe()


def test_a_lease_table_whose_endpoint_is_down_says_which_setting_to_check() -> None:
    with pytest.raises(
        AwsUnreachableError, match=r"reading the leases of 'orders-app' .*app_table\.endpoint_url"
    ):
        AppTable(client_of("dynamodb"), "orders-app").leases()
