"""The component stays a thin skin over the spec: same fields, shipped schema up to date, and a
scaffolded defs.yaml that validates as it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kinesis_pipelines.cli import main
from kinesis_pipelines.components import KinesisPipeline
from kinesis_pipelines.components.schema import SCHEMA_PATH, render_schema
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines_tests.components.test_malformed_corpus import make_project


def test_component_attributes_are_the_spec_fields() -> None:
    assert set(KinesisPipeline.model_fields) == set(PipelineSpec.model_fields)


def test_shipped_schema_is_generated_from_the_spec() -> None:
    assert SCHEMA_PATH.read_text() == render_schema(), (
        "run `kinesis-pipelines schema --write` to update the shipped schema"
    )
    schema = json.loads(SCHEMA_PATH.read_text())
    attributes = schema["properties"]["attributes"]
    assert set(attributes["properties"]) == set(PipelineSpec.model_fields)
    assert attributes["additionalProperties"] is False


def test_dg_scaffold_defs_gives_a_valid_pipeline(tmp_path: Path) -> None:
    root, package = make_project(tmp_path, {})
    dg = Path(sys.executable).with_name("dg")
    result = subprocess.run(
        [str(dg), "scaffold", "defs", "kinesis_pipelines.components.KinesisPipeline", "orders"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    defs_file = root / package / "defs" / "orders" / "defs.yaml"
    assert "kinesis_pipelines.components.KinesisPipeline" in defs_file.read_text()
    assert main(["validate", str(defs_file)]) == 0
    # the editors' schema is in the project, named relative to the defs.yaml: a clone elsewhere
    # (here: the project moved) still finds it
    moved = tmp_path / "elsewhere"
    root.rename(moved)
    moved_defs = moved / package / "defs" / "orders" / "defs.yaml"
    reference = moved_defs.read_text().splitlines()[0].removeprefix("# yaml-language-server: $schema=")
    assert not Path(reference).is_absolute() and "://" not in reference, reference
    schema = json.loads((moved_defs.parent / reference).read_text())
    assert schema == json.loads(SCHEMA_PATH.read_text())
