"""The JSON schema editors use for defs.yaml, generated from PipelineSpec (the one source)
through the component's attributes schema."""

import json
from pathlib import Path
from typing import Any

from kinesis_pipelines.components.attributes import attributes_schema
from kinesis_pipelines.spec import COMPONENT_TYPE

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schema" / "defs.schema.json"


def defs_schema() -> dict[str, Any]:
    """A whole defs.yaml: the component's type and its attributes (the spec as YAML gives it,
    templates allowed), self-contained."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kinesis_pipelines defs.yaml",
        "description": "A Dagster defs.yaml whose attributes are a kinesis_pipelines PipelineSpec.",
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "attributes"],
        "properties": {
            "type": {"const": COMPONENT_TYPE},
            "attributes": attributes_schema(),
        },
    }


def render_schema() -> str:
    return json.dumps(defs_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_schema())
    return path
