"""The Kinesis stream of a pipeline, as a Dagster resource."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from kinesis_pipelines.aws.connection import Service
from kinesis_pipelines.aws.kinesis import KinesisStream
from kinesis_pipelines.resources.aws import AwsServiceResource


class KinesisStreamResource(AwsServiceResource):
    """A Kinesis data stream: created if missing with `shards`; resharded only by rebalancing."""

    service: ClassVar[Service] = "kinesis"

    stream_name: str = Field(description="Kinesis stream name.")
    shards: int = Field(default=1, description="Open shards to create the stream with.")
    capacity_mode: str = Field(default="PROVISIONED", description="PROVISIONED or ON_DEMAND.")
    retention_hours: int = Field(default=24, description="Retention to create the stream with.")

    def stream(self) -> KinesisStream:
        return KinesisStream(
            self.client(),
            self.stream_name,
            shards=self.shards,
            capacity_mode=self.capacity_mode,
            retention_hours=self.retention_hours,
        )
