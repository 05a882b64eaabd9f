"""A stream's AWS/Kinesis metrics from CloudWatch, where it publishes them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from kinesis_pipelines.aws.errors import AWS_FAILURES
from kinesis_pipelines.planning.reshard import Metrics


def stream_metrics(client: Any, stream_name: str, now: float, window: float = 300.0) -> Metrics | None:
    """AWS/Kinesis IncomingRecords, IncomingBytes and GetRecords.IteratorAgeMilliseconds over the
    `window` seconds before `now`, or None where CloudWatch has none for the stream (the
    emulators)."""
    end = datetime.fromtimestamp(now, timezone.utc)
    dimensions = [{"Name": "StreamName", "Value": stream_name}]

    def query(name: str, stat: str) -> dict[str, Any]:
        return {
            "Id": name.replace(".", "_").lower(),
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Kinesis", "MetricName": name, "Dimensions": dimensions},
                "Period": 60,
                "Stat": stat,
            },
        }

    try:
        response = client.get_metric_data(
            MetricDataQueries=[
                query("IncomingRecords", "Sum"),
                query("IncomingBytes", "Sum"),
                query("GetRecords.IteratorAgeMilliseconds", "Maximum"),
            ],
            StartTime=end - timedelta(seconds=window),
            EndTime=end + timedelta(seconds=60),
        )
    except AWS_FAILURES:  # no figures: the caller plans without them
        return None
    values = {r["Id"]: r.get("Values", []) for r in response["MetricDataResults"]}
    if not values.get("incomingrecords"):
        return None
    per_minute_records = max(values["incomingrecords"])
    per_minute_bytes = max(values.get("incomingbytes") or [0.0])
    return Metrics(
        incoming_records_per_s=per_minute_records / 60,
        incoming_bytes_per_s=per_minute_bytes / 60,
        max_lag_seconds=max(values.get("getrecords_iteratoragemilliseconds") or [0.0]) / 1000,
        source="cloudwatch AWS/Kinesis (busiest minute)",
    )
