"""The KinesisPipeline component: a `defs.yaml` whose attributes are a pipeline spec.

The component is thin: its attributes are exactly PipelineSpec's top-level fields (a test keeps
them from drifting apart), validated by PipelineSpec itself, so `kinesis-pipelines validate`,
`dg check defs` and a code-location load give the same error for the same mistake.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field, PrivateAttr

from kinesis_pipelines.components.scaffolder import KinesisPipelineScaffolder
from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.orchestration import pipeline_definitions
from kinesis_pipelines.spec import PipelineSpec, validate_spec_data


@dg.scaffold_with(KinesisPipelineScaffolder)
class KinesisPipeline(dg.Component, dg.Resolvable, dg.Model):
    """A Kinesis → Spark Streaming pipeline: its stream, KCL application table and receiver job.
    Attributes are the pipeline spec; see kinesis_pipelines/schema/defs.schema.json."""

    name: str = Field(description="Pipeline name: lower case, digits, '_'; used in asset keys.")
    description: str = Field("", description="Shown in the Dagster UI.")
    owners: list[str] = Field(default_factory=list, description="Dagster owners.")
    stream: dict[str, Any] = Field(description="The Kinesis stream (PipelineSpec.stream).")
    app_table: dict[str, Any] = Field(description="The KCL application table.")
    job: dict[str, Any] = Field(description="The Spark receiver job.")
    credentials: dict[str, Any] = Field(
        default_factory=dict, description="default_chain or assume_role; never a secret."
    )
    cloudwatch_endpoint_url: str | None = Field(None, description="CloudWatch endpoint override.")
    _source: Path | None = PrivateAttr(None)

    @property
    def source(self) -> Path | None:
        """The defs.yaml this component came from, once Dagster has loaded it."""
        return self._source

    def spec(self, source: Path | None = None) -> PipelineSpec:
        """The validated spec; errors name the defs.yaml file and line."""
        data = self.model_dump(exclude_unset=True)
        node = None
        if source is not None and source.exists():
            try:
                root = yaml.compose(source.read_text())
                node = next((v for k, v in root.value if k.value == "attributes"), None)
            except (yaml.YAMLError, AttributeError):
                node = None
        return validate_spec_data(data, source=str(source or "<component>"), node=node)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        source = Path(context.path) / "defs.yaml"
        self._source = source
        spec = self.spec(source)
        try:
            return pipeline_definitions(spec)
        except SpecError as exc:
            raise SpecError(f"{source}: {exc}") from exc
