"""Dagster resources: documented config plus one client factory each."""

from kinesis_pipelines.resources.dynamodb import DynamoDBAppTableResource
from kinesis_pipelines.resources.kinesis import KinesisStreamResource
from kinesis_pipelines.resources.spark import SparkReceiverJobResource

__all__ = ["DynamoDBAppTableResource", "KinesisStreamResource", "SparkReceiverJobResource"]
