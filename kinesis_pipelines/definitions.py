"""The one Dagster entry point: the pipelines of this project's defs folder."""

from pathlib import Path

import dagster as dg

from kinesis_pipelines.orchestration.project import load_project_definitions

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dg.definitions
def defs() -> dg.Definitions:
    return load_project_definitions(PROJECT_ROOT)
