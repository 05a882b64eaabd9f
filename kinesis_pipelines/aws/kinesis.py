"""The Kinesis data stream of a pipeline: create if missing, describe, list shards, reshard."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.aws.errors import AWS_FAILURES, aws_error, has_code
from kinesis_pipelines.errors import AwsError, StreamMissingError
from kinesis_pipelines.spec import PipelineSpec


class StreamReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    arn: str
    status: str
    created: bool
    open_shards: list[str]
    all_shards: list[str]
    capacity_mode: str
    retention_hours: int
    drift: str | None = None


class KinesisStream:
    """A Kinesis data stream: created if missing with the spec's shards; resharded only by
    rebalancing (`update_shard_count`)."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        shards: int = 1,
        capacity_mode: str = "PROVISIONED",
        retention_hours: int = 24,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.shards = shards
        self.capacity_mode = capacity_mode
        self.retention_hours = retention_hours

    @classmethod
    def for_spec(cls, spec: PipelineSpec, client: Any) -> KinesisStream:
        return cls(
            client,
            spec.stream.name,
            shards=spec.stream.shards,
            capacity_mode=spec.stream.capacity_mode.value,
            retention_hours=spec.stream.retention_hours,
        )

    def describe(self) -> dict[str, Any] | None:
        try:
            return self.client.describe_stream_summary(StreamName=self.stream_name)[
                "StreamDescriptionSummary"
            ]
        except AWS_FAILURES as exc:
            if has_code(exc, "ResourceNotFoundException"):
                return None
            raise aws_error(exc, f"describing stream {self.stream_name!r}", "kinesis") from exc

    def list_shards(self) -> list[dict[str, Any]]:
        client = self.client
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            try:
                page = client.list_shards(**kwargs)
            except AWS_FAILURES as exc:
                if has_code(exc, "ResourceNotFoundException"):
                    raise StreamMissingError(
                        f"stream {self.stream_name!r} does not exist; deploy the pipeline "
                        "(the deploy job or `kinesis-pipelines deploy`) to create it"
                    ) from exc
                raise aws_error(exc, f"listing the shards of {self.stream_name!r}", "kinesis") from exc
            shards.extend(page["Shards"])
            token = page.get("NextToken")
            if not token:
                return shards
            kwargs = {"NextToken": token}

    def open_shard_ids(self) -> list[str]:
        return [
            shard["ShardId"]
            for shard in self.list_shards()
            if "EndingSequenceNumber" not in shard["SequenceNumberRange"]
        ]

    def ensure_stream(
        self, progress: Callable[[str], None] | None = None, timeout: float = 120.0
    ) -> StreamReport:
        """Create the stream if missing, wait for ACTIVE, report open shards and drift."""
        say = progress or (lambda _m: None)
        summary = self.describe()
        created = False
        if summary is None:
            say(f"creating stream {self.stream_name} with {self.shards} shard(s)")
            kwargs: dict[str, Any] = {
                "StreamName": self.stream_name,
                "StreamModeDetails": {"StreamMode": self.capacity_mode},
            }
            if self.capacity_mode == "PROVISIONED":
                kwargs["ShardCount"] = self.shards
            try:
                self.client.create_stream(**kwargs)
            except AWS_FAILURES as exc:
                raise aws_error(exc, f"creating stream {self.stream_name!r}", "kinesis") from exc
            created = True
        summary = self.wait_active(say, timeout)
        if created and summary["RetentionPeriodHours"] < self.retention_hours:
            self.client.increase_stream_retention_period(
                StreamName=self.stream_name, RetentionPeriodHours=self.retention_hours
            )
            summary = self.wait_active(say, timeout)
        shards = self.list_shards()
        open_ids = [s["ShardId"] for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
        mode = summary.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
        drift = None
        if not created and mode == "PROVISIONED" and len(open_ids) != self.shards:
            drift = (
                f"the spec asks for {self.shards} shard(s) but stream {self.stream_name} has "
                f"{len(open_ids)} open; left as is (rebalancing owns the shard count)"
            )
        return StreamReport(
            name=self.stream_name,
            arn=summary["StreamARN"],
            status=summary["StreamStatus"],
            created=created,
            open_shards=open_ids,
            all_shards=[s["ShardId"] for s in shards],
            capacity_mode=mode,
            retention_hours=summary["RetentionPeriodHours"],
            drift=drift,
        )

    def wait_active(self, say: Callable[[str], None], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            summary = self.describe()
            if summary is None:
                raise AwsError(f"stream {self.stream_name!r} vanished while waiting for ACTIVE")
            if summary["StreamStatus"] == "ACTIVE":
                return summary
            if time.monotonic() > deadline:
                raise AwsError(
                    f"stream {self.stream_name!r} still {summary['StreamStatus']} after {timeout:.0f} s"
                )
            say(f"waiting for stream {self.stream_name} to be ACTIVE ({summary['StreamStatus']})")
            time.sleep(0.5)

    def oldest_sequence_number(self, shard_id: str) -> str | None:
        """The oldest record a shard still holds, or None when it holds none."""
        client = self.client
        iterator = client.get_shard_iterator(
            StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for _ in range(5):  # empty pages can precede the first record
            page = client.get_records(ShardIterator=iterator, Limit=1)
            if page["Records"]:
                return str(page["Records"][0]["SequenceNumber"])
            iterator = page.get("NextShardIterator")
            if not iterator:
                return None
        return None

    def millis_behind(self, shard_id: str, checkpoint: str | None) -> int | None:
        """How far a reader positioned at `checkpoint` is behind the shard's newest record (None if
        Kinesis did not say); AwsError if it cannot be read: an unread lag is unknown, not 0."""
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if checkpoint and checkpoint.isdigit():
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=checkpoint)
        elif checkpoint == "LATEST":
            kwargs["ShardIteratorType"] = "LATEST"
        else:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        client = self.client
        try:
            iterator = client.get_shard_iterator(**kwargs)["ShardIterator"]
            page = client.get_records(ShardIterator=iterator, Limit=1)
        except AWS_FAILURES as exc:
            raise aws_error(exc, f"reading the lag of {self.stream_name}/{shard_id}", "kinesis") from exc
        behind = page.get("MillisBehindLatest")
        return int(behind) if behind is not None else None

    def update_shard_count(self, target: int) -> None:
        try:
            self.client.update_shard_count(
                StreamName=self.stream_name, TargetShardCount=target, ScalingType="UNIFORM_SCALING"
            )
        except AWS_FAILURES as exc:
            raise aws_error(exc, f"UpdateShardCount of {self.stream_name!r} to {target}", "kinesis") from exc
