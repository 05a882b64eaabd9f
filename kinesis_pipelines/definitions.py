"""The package's own code location: its defs folder, loaded the way any dg project loads one.
Each KinesisPipeline component brings what it shares with the others (the assembly asset of its
Spark line) and refuses a name or application table that another pipeline of the project uses."""

from pathlib import Path

import dagster as dg

from kinesis_pipelines.home import describe_state_home

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_project_definitions(project_root: Path) -> dg.Definitions:
    """The definitions of the dg project at `project_root`: the same as
    `dg.load_from_defs_folder(project_root=project_root)`, kept for projects that call it."""
    return dg.load_from_defs_folder(project_root=project_root)


@dg.definitions
def defs() -> dg.Definitions:
    dg.get_dagster_logger().info(describe_state_home())
    return dg.load_from_defs_folder(project_root=PROJECT_ROOT)
