"""The KCL application (lease and checkpoint) table of a pipeline, as a Dagster resource."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from kinesis_pipelines.aws.connection import Service
from kinesis_pipelines.aws.dynamodb import AppTable
from kinesis_pipelines.resources.aws import AwsServiceResource


class DynamoDBAppTableResource(AwsServiceResource):
    """The lease and checkpoint table KCL keeps for one application (its name is the table's)."""

    service: ClassVar[Service] = "dynamodb"

    application_name: str = Field(description="KCL application name = DynamoDB table name.")

    def table(self) -> AppTable:
        return AppTable(self.client(), self.application_name)
