"""The KinesisPipeline component: a `defs.yaml` whose attributes are a pipeline spec.

The component is thin: its attributes are exactly PipelineSpec's top-level fields (a test keeps
them from drifting apart), validated by PipelineSpec itself, so `kinesis-pipelines validate`,
`dg check defs` and a code-location load give the same error for the same mistake.
"""

from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from pydantic import Field, PrivateAttr

from kinesis_pipelines.components.scaffolder import KinesisPipelineScaffolder
from kinesis_pipelines.orchestration import pipeline_definitions
from kinesis_pipelines.spec import PipelineSpec, validate_spec_data
from kinesis_pipelines.validation import validate_pipeline_file

Raw = Annotated[Any, dg.Resolver.passthrough()]


@dg.scaffold_with(KinesisPipelineScaffolder)
class KinesisPipeline(dg.Component, dg.Resolvable, dg.Model):
    """A Kinesis → Spark Streaming pipeline: its stream, KCL application table and receiver job.
    Attributes are the pipeline spec; see kinesis_pipelines/schema/defs.schema.json."""

    # Attributes pass through unresolved: PipelineSpec validates them and resolves their
    # {{ env(...) }} templates itself, so errors name the defs.yaml line and field exactly as
    # `kinesis-pipelines validate` does.
    name: Raw = Field(description="Pipeline name: lower case, digits, '_'; used in asset keys.")
    description: Raw = Field("", description="Shown in the Dagster UI.")
    owners: Raw = Field(default_factory=list, description="Dagster owners.")
    stream: Raw = Field(description="The Kinesis stream (PipelineSpec.stream).")
    app_table: Raw = Field(description="The KCL application table.")
    job: Raw = Field(description="The Spark receiver job.")
    credentials: Raw = Field(
        default_factory=dict, description="default_chain or assume_role; never a secret."
    )
    supervision: Raw = Field(default_factory=dict, description="Health checks and restarts.")
    rebalancing: Raw = Field(default_factory=dict, description="Scheduled capacity rebalancing.")
    driver_log: Raw = Field(
        default_factory=dict, description="Rotation of the driver's log on this host (size, files kept)."
    )
    cloudwatch_endpoint_url: Raw = Field(None, description="CloudWatch endpoint override.")
    _source: Path | None = PrivateAttr(None)
    _spec: PipelineSpec | None = PrivateAttr(None)

    @classmethod
    def load(cls, attributes: Any, context: dg.ComponentLoadContext) -> "KinesisPipeline":
        component = super().load(attributes, context)
        component._source = Path(context.path) / "defs.yaml"
        return component

    @property
    def source(self) -> Path | None:
        """The defs.yaml this component came from, once Dagster has loaded it."""
        return self._source

    def spec(self) -> PipelineSpec:
        """The validated spec, read from the defs.yaml file itself exactly as
        `kinesis-pipelines validate` reads it, so errors name the file and line."""
        if self._spec is not None:
            return self._spec
        if self._source is not None:
            self._spec = validate_pipeline_file(self._source)
        else:  # built in Python rather than loaded from a defs.yaml
            self._spec = validate_spec_data(self.model_dump(exclude_unset=True), source="<component>")
        return self._spec

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        if self._source is None:
            self._source = Path(context.path) / "defs.yaml"
        return pipeline_definitions(self.spec())
