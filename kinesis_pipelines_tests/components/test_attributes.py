"""The attributes' schema: every spec the package ships or scaffolds passes it, templates
included, and the mistakes a schema can hold are caught at the nested field's own line, by the
schema directly and by `dg check yaml`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from kinesis_pipelines.components.attributes import attributes_schema
from kinesis_pipelines.components.scaffolder import TEMPLATE
from kinesis_pipelines_tests.support.dg_project import make_project

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [
    *sorted((REPO / "kinesis_pipelines" / "defs").glob("*/defs.yaml")),
    REPO / "docs" / "examples" / "pipeline.yaml",
]
CORPUS = Path(__file__).with_name("corpus") / "single"
SHAPE_MISTAKES = {
    # case: (the field's path in the attributes, words of the checker's message); an unknown key
    # is reported on its mapping, and `dg check yaml` names the key's own line
    "01_unknown_key": ("stream", "'shardz' was unexpected"),
    "02_shards_wrong_type": ("stream.shards", "'two'"),
    "03_shards_zero": ("stream.shards", "less than the minimum of 1"),
    "05_shards_too_many": ("stream.shards", "greater than the maximum of 500"),
    "11_batch_interval_zero": ("job.batch_interval_seconds", "less than or equal to the minimum of 0"),
    "12_retention_too_long": ("stream.retention_hours", "greater than the maximum of 8760"),
    "15_initial_position_invalid": ("job.initial_position", "is not valid under any of the given schemas"),
    "20_literal_secret": ("credentials", "('aws_secret_access_key' was unexpected)"),
    "22_missing_sink": ("job", "'sink' is a required property"),
    "26_stream_not_a_mapping": ("stream", "is not of type 'object'"),
    "27_sink_kind_unknown": ("job.sink.kind", "is not valid under any of the given schemas"),
}


def attributes_of(path: Path) -> Any:
    return yaml.safe_load(path.read_text())["attributes"]


def schema_errors(attributes: Any) -> list[tuple[str, str]]:
    validator = jsonschema.Draft202012Validator(attributes_schema())
    return [
        (".".join(str(part) for part in error.absolute_path), error.message)
        for error in validator.iter_errors(attributes)
    ]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_every_shipped_spec_passes_the_schema(path: Path) -> None:
    assert schema_errors(attributes_of(path)) == []


def test_the_scaffolded_spec_with_its_templates_passes_the_schema() -> None:
    text = TEMPLATE.format(schema="x.json", type_name="t", name="orders", stream="orders")
    attributes = yaml.safe_load(text)["attributes"]
    attributes["stream"]["shards"] = "{{ env('KP_SHARDS', '2') }}"  # a template where an int goes
    assert schema_errors(attributes) == []


@pytest.mark.parametrize("case", sorted(SHAPE_MISTAKES), ids=str)
def test_the_schema_names_the_nested_field_of_each_mistake(case: str) -> None:
    field, words = SHAPE_MISTAKES[case]
    errors = schema_errors(attributes_of(CORPUS / case / "defs.yaml"))
    assert any(path == field and words in message for path, message in errors), errors
    assert all("hunter2" not in message for _, message in errors)  # a misplaced secret is not echoed


def test_rules_a_schema_cannot_hold_are_left_to_the_spec() -> None:
    # a stream name's characters, a cross-field rule: valid shapes, refused by the spec's own load
    for case in ("06_stream_name_invalid", "14_processing_cores_too_many"):
        assert schema_errors(attributes_of(CORPUS / case / "defs.yaml")) == [], case


@pytest.mark.parametrize("case", ["01_unknown_key", "03_shards_zero"])
def test_dg_check_yaml_names_the_file_the_line_and_the_nested_field(case: str, tmp_path: Path) -> None:
    root, package = make_project(tmp_path, {"bad": CORPUS / case / "defs.yaml"})
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "check", "yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    line, field = (CORPUS / case / "expect.txt").read_text().splitlines()[:2]
    defs_file = root / package / "defs" / "bad" / "defs.yaml"
    assert f"{defs_file}:{line} - " in output, output[-3000:]
    assert f"attributes.{field} " in output and SHAPE_MISTAKES[case][1] in output, output[-3000:]
