"""The KinesisPipeline component: a `defs.yaml` whose attributes are a pipeline spec.

The component is thin: its attributes are exactly PipelineSpec's top-level fields (a test keeps
them from drifting apart). Their schema is the spec's own, every nested field typed
(`components/attributes.py`): `dg check yaml` and editors use it. A load hands the attributes to
PipelineSpec as given, so `kinesis-pipelines validate`, `dg check defs` and a code-location load
give the same error for the same mistake, and the spec's rules that a schema cannot hold apply.
"""

import functools
from pathlib import Path
from typing import Annotated, Any

import dagster as dg
from pydantic import BaseModel, Field, PrivateAttr

from kinesis_pipelines.components.attributes import attributes_schema
from kinesis_pipelines.components.scaffolder import KinesisPipelineScaffolder
from kinesis_pipelines.orchestration import pipeline_definitions
from kinesis_pipelines.orchestration.assets import assembly_asset
from kinesis_pipelines.spec import PipelineSpec, validate_spec_data
from kinesis_pipelines.spec.runtime import Runtime
from kinesis_pipelines.spec.validation import check_pipelines_apart, validated_pipeline, validated_spec


def _as_given(context: dg.ResolutionContext, value: Any) -> Any:
    """An attribute as the defs.yaml gave it (templates unrendered): the spec renders and checks
    it, so its errors name the file, line and field in the words `kinesis-pipelines validate` uses."""
    return value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value


Given = Annotated[Any, dg.Resolver(_as_given, inject_before_resolve=False)]
"""An attribute handed over as the defs.yaml gave it; its schema is the spec's (`get_model_cls`)."""


@functools.cache
def _attributes_model(derived: type[BaseModel]) -> type[BaseModel]:
    class KinesisPipelineAttributes(derived):  # type: ignore[valid-type,misc]
        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return attributes_schema()

    return KinesisPipelineAttributes


@dg.scaffold_with(KinesisPipelineScaffolder)
class KinesisPipeline(dg.Component, dg.Resolvable, dg.Model):
    """A Kinesis → Spark Streaming pipeline: its stream, KCL application table and receiver job.
    Attributes are the pipeline spec (docs/spec-reference.md), typed by the spec's own models."""

    name: Given
    description: Given = ""
    owners: Given = Field(default_factory=list)
    stream: Given
    app_table: Given
    job: Given
    credentials: Given = Field(default_factory=dict)
    supervision: Given = Field(default_factory=dict)
    rebalancing: Given = Field(default_factory=dict)
    driver_log: Given = Field(default_factory=dict)
    cloudwatch_endpoint_url: Given = None
    _source: Path | None = PrivateAttr(None)
    _spec: PipelineSpec | None = PrivateAttr(None)
    _runtime: Runtime | None = PrivateAttr(None)
    _project: list["KinesisPipeline"] | None = PrivateAttr(None)

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        """Dagster's model of the attributes, publishing the spec's own schema (every nested
        field, its type, bounds and description; templates allowed), which `dg check yaml` checks
        a defs.yaml against and editors complete from."""
        return _attributes_model(cls.model())

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
            self._spec, self._runtime = validated_pipeline(self._source)
        else:  # built in Python rather than loaded from a defs.yaml
            self._spec = validate_spec_data(self.model_dump(exclude_unset=True), source="<component>")
            self._runtime = validated_spec(self._spec)
        return self._spec

    def runtime(self) -> Runtime:
        """The Spark and Python the pipeline runs with, resolved once with its spec."""
        self.spec()
        assert self._runtime is not None
        return self._runtime

    def spark_version(self) -> str:
        """The Spark release the pipeline submits with."""
        return self.runtime().spark_version

    def _project_pipelines(self, context: dg.ComponentLoadContext) -> list["KinesisPipeline"]:
        """Every pipeline of the project, checked once for a shared name or application table
        (the first to build checks for all, and hands each the list)."""
        project = self._project
        if project is None:
            project = context.component_tree.get_all_components(of_type=KinesisPipeline)
            if not any(pipeline is self for pipeline in project):  # built outside a project's tree
                project = [*project, self]
            check_pipelines_apart(
                [pipeline.spec() for pipeline in project],
                [str(pipeline.source) for pipeline in project],
            )
            for pipeline in project:
                pipeline._project = project
        return project

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The pipeline's definitions after checking that no pipeline of the project shares its
        name or application table, and the assembly asset of its Spark line if it is the first
        pipeline on that line: a project that loads its defs folder the standard way gets all of
        it, each asset once."""
        if self._source is None:
            self._source = Path(context.path) / "defs.yaml"
        spec = self.spec()
        pipelines = self._project_pipelines(context)
        defs = pipeline_definitions(spec, self.runtime())
        line = next(p for p in pipelines if p.spark_version() == self.spark_version())
        if line is self:
            defs = dg.Definitions.merge(defs, dg.Definitions(assets=[assembly_asset(self.spark_version())]))
        return defs
