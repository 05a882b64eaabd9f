"""The one Dagster entry point: every KinesisPipeline component under kinesis_pipelines/defs/,
plus what pipelines share (one assembly-jar asset per Spark version), after checking that no
two pipelines share a name or an application table."""

from pathlib import Path

import dagster as dg

from kinesis_pipelines.components import KinesisPipeline
from kinesis_pipelines.orchestration import check_pipelines_apart, shared_definitions

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dg.definitions
def defs() -> dg.Definitions:
    tree = dg.ComponentTree.for_project(PROJECT_ROOT)
    component_defs = tree.build_defs()
    pipelines = tree.get_all_components(of_type=KinesisPipeline)
    specs = [pipeline.spec(pipeline.source) for pipeline in pipelines]
    check_pipelines_apart(specs, [str(pipeline.source) for pipeline in pipelines])
    return dg.Definitions.merge(component_defs, shared_definitions(specs))
