"""The Spark receiver job of a pipeline, as a Dagster resource: its spec and where it runs."""

from __future__ import annotations

import functools

import dagster as dg
from pydantic import Field

from kinesis_pipelines.launch import Launcher, launcher_for
from kinesis_pipelines.operations.backends import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS
from kinesis_pipelines.spec import PipelineSpec


class SparkReceiverJobResource(dg.ConfigurableResource):
    """Submits and supervises the pipeline's streaming driver."""

    spec_json: str = Field(description="The pipeline spec (JSON of kinesis_pipelines.PipelineSpec).")
    stop_timeout_seconds: float = Field(
        default=STOP_TIMEOUT_SECONDS, description="Graceful stop wait before a kill."
    )
    start_timeout_seconds: float = Field(
        default=START_TIMEOUT_SECONDS, description="Wait for the driver to come up."
    )

    def spec(self) -> PipelineSpec:
        return _parse_spec(self.spec_json)

    def launcher(self) -> Launcher:
        return launcher_for(self.spec())


@functools.lru_cache(maxsize=64)
def _parse_spec(spec_json: str) -> PipelineSpec:
    return PipelineSpec.model_validate_json(spec_json)
