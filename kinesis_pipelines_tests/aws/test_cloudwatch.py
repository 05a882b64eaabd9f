"""Rebalancing reads AWS/Kinesis metrics from CloudWatch when there are any: here the embedded
CloudWatch (moto's server) holds datapoints put the way Kinesis publishes them."""

from __future__ import annotations

import datetime
import time

from kinesis_pipelines.aws import make_client, resolve_connection
from kinesis_pipelines.aws.cloudwatch import stream_metrics
from kinesis_pipelines_tests.e2e.helpers import make_spec


def test_cloudwatch_metrics_are_preferred(local_aws) -> None:
    spec = make_spec("cw_metrics", shards=2)
    client = make_client("cloudwatch", resolve_connection(spec))
    assert stream_metrics(client, spec.stream.name, time.time()) is None  # nothing published yet
    now = datetime.datetime.now(datetime.timezone.utc)
    dims = [{"Name": "StreamName", "Value": spec.stream.name}]
    client.put_metric_data(
        Namespace="AWS/Kinesis",
        MetricData=[
            {"MetricName": "IncomingRecords", "Dimensions": dims, "Timestamp": now, "Value": 90_000},
            {"MetricName": "IncomingBytes", "Dimensions": dims, "Timestamp": now, "Value": 6_000_000},
            {
                "MetricName": "GetRecords.IteratorAgeMilliseconds",
                "Dimensions": dims,
                "Timestamp": now,
                "Value": 12_000,
            },
        ],
    )
    metrics = stream_metrics(client, spec.stream.name, time.time())
    assert metrics is not None and metrics.source.startswith("cloudwatch")
    assert metrics.incoming_records_per_s == 1_500
    assert metrics.incoming_bytes_per_s == 100_000
    assert metrics.max_lag_seconds == 12
