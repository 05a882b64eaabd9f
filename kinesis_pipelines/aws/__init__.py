"""AWS, one module per service, over one connection resolver and client factory:
`connection` (endpoints, region, credentials, trust), `kinesis` (the stream), `dynamodb` (the
KCL lease table), `fence` (one driver per application), `cloudwatch` (stream metrics)."""

from kinesis_pipelines.aws.connection import (
    SERVICES,
    AwsConnection,
    Service,
    connect,
    make_client,
    resolve_connection,
)

__all__ = ["SERVICES", "AwsConnection", "Service", "connect", "make_client", "resolve_connection"]
