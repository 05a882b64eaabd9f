"""Dagster component types of kinesis_pipelines (registered under dagster_dg_cli.registry_modules)."""

from kinesis_pipelines.components.kinesis_pipeline import KinesisPipeline

__all__ = ["KinesisPipeline"]
