"""botocore's failures, translated once into this package's errors, each saying what to do.

Every AWS call of the package catches `AWS_FAILURES` and raises `aws_error(exc, doing, service)`,
after handling the codes it expects (`has_code`: a table not there yet, a conditional write that
lost). The error's class says the kind of failure, so a caller (the supervisor, the CLI's exit code)
can tell a missing permission from throttling or an endpoint that does not answer, and its message
names the call, AWS's code and the fix.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from kinesis_pipelines.errors import (
    AwsAccessDeniedError,
    AwsError,
    AwsThrottledError,
    AwsUnreachableError,
)

AWS_FAILURES: tuple[type[Exception], ...] = (ClientError, BotoCoreError)
"""What a boto3 call raises: an answer with an error code, or no answer at all."""

ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "KMSAccessDeniedException",
    }
)
THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TooManyRequestsException",
    }
)

# where each service's endpoint is set, for the hint of a call that got no answer
ENDPOINT_SETTINGS = {
    "kinesis": "stream.endpoint_url",
    "dynamodb": "app_table.endpoint_url",
    "cloudwatch": "cloudwatch_endpoint_url",
    "sts": "credentials (the STS endpoint)",
}


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a failed call (None when no answer came)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def has_code(exc: BaseException, *codes: str) -> bool:
    """Whether a failed call was answered with one of `codes`."""
    return error_code(exc) in codes


def aws_error(exc: BaseException, doing: str, service: str) -> AwsError:
    """The package's error for a failed call: `doing` says what was asked ("describing stream
    'orders'"), `service` which endpoint it went to."""
    code = error_code(exc)
    if code is None:
        setting = ENDPOINT_SETTINGS.get(service, f"the {service} endpoint")
        return AwsUnreachableError(
            f"cannot reach {service} while {doing} ({exc}); check {setting} and that the endpoint is up"
        )
    message = str(exc.response["Error"].get("Message", "")) if isinstance(exc, ClientError) else str(exc)
    said = f"{doing} failed ({code}: {message})" if message else f"{doing} failed ({code})"
    if code in ACCESS_DENIED:
        return AwsAccessDeniedError(
            f"{said}; the credentials in use may not do this, or are not valid: "
            "`kinesis-pipelines iam SPEC` prints the policies each component needs"
        )
    if code in THROTTLED:
        return AwsThrottledError(
            f"{said}; AWS throttled the call after boto3's retries: try again later, or ask for a "
            "higher quota (Kinesis: 5 control-plane calls a second per account; DynamoDB: the table's "
            "capacity)"
        )
    if code == "ResourceInUseException":
        return AwsError(f"{said}; it is being created, updated or deleted: try again once it is ACTIVE")
    return AwsError(said)
