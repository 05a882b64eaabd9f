"""The one Dagster entry point: every KinesisPipeline component under this project's defs
folder, plus what they share, after checking that no two share a name or an application table."""

from pathlib import Path

import dagster as dg

from kinesis_pipelines.components import KinesisPipeline
from kinesis_pipelines.home import describe_state_home
from kinesis_pipelines.orchestration import check_pipelines_apart, shared_definitions

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_project_definitions(project_root: Path) -> dg.Definitions:
    tree = dg.ComponentTree.for_project(project_root)
    pipelines = tree.get_all_components(of_type=KinesisPipeline)
    specs = [pipeline.spec() for pipeline in pipelines]
    check_pipelines_apart(specs, [str(pipeline.source) for pipeline in pipelines])
    dg.get_dagster_logger().info(describe_state_home())
    return dg.Definitions.merge(tree.build_defs(), shared_definitions(specs))


@dg.definitions
def defs() -> dg.Definitions:
    return load_project_definitions(PROJECT_ROOT)
