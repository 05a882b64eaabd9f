"""The spec reference (docs/spec-reference.md), generated from the pydantic models of the pipeline
spec: every field with its type, default, description and examples, one section per nested model.

    python -m kinesis_pipelines.schema.reference            # print it
    python -m kinesis_pipelines.schema.reference --write    # update docs/spec-reference.md
"""

from __future__ import annotations

import argparse
import datetime
import enum
import re
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kinesis_pipelines.spec import PipelineSpec

REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "spec-reference.md"
REGENERATE = "python -m kinesis_pipelines.schema.reference --write"
TOP_LEVEL = "attributes"

INTRO = f"""\
# Pipeline spec reference

<!-- Generated from kinesis_pipelines/spec.py by `{REGENERATE}`: do not edit by hand. -->

A pipeline is one `defs.yaml` whose `type` is `kinesis_pipelines.components.KinesisPipeline` and
whose `attributes` are the fields below (a bare spec, the attributes alone, works for the command
line too). [`examples/pipeline.yaml`](examples/pipeline.yaml) is a complete one;
`kinesis-pipelines validate FILE` checks a file the way a deploy would, and editors validate
against `kinesis_pipelines/schema/defs.schema.json`.

- Any string may be a template, `{{{{ env('NAME', 'default') }}}}`, resolved as Dagster resolves
  them; a variable that is unset and has no default is an error naming the file, line and field.
- An endpoint of `embedded` means the embedded local AWS (`kinesis-pipelines local-aws`); `aws`,
  or leaving the endpoint out, means AWS's own endpoint.
- A spec never holds a secret: credentials come from the default AWS chain or an assumed role,
  and a key that looks like a secret is refused.
- Unknown keys are refused, naming the keys allowed there.
"""


@dataclass(frozen=True)
class Section:
    """One model of the spec, at the dotted path where it sits (`attributes` for the top level)."""

    path: str
    model: type[BaseModel]
    summary: str
    """The model's docstring, else the description of the field that holds it."""


def sections(
    model: type[BaseModel] = PipelineSpec, path: str = TOP_LEVEL, held_as: str = ""
) -> Iterator[Section]:
    """Every model of the spec, depth first, in the order of its fields."""
    yield Section(path, model, " ".join((model.__doc__ or held_as).split()))
    for name, field in model.model_fields.items():
        nested = model_of(field)
        if nested is not None:
            nested_path = name if path == TOP_LEVEL else f"{path}.{name}"
            yield from sections(nested, nested_path, field.description or "")


def model_of(field: FieldInfo) -> type[BaseModel] | None:
    """The nested model a field holds, if it holds one."""
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def field_path(section: Section, name: str) -> str:
    """A field's dotted path, as error messages name it (`job.sink.path`)."""
    return name if section.path == TOP_LEVEL else f"{section.path}.{name}"


def anchor(path: str) -> str:
    """The anchor GitHub gives the heading `## path`."""
    return re.sub(r"[^a-z0-9_ -]", "", path.lower()).replace(" ", "-")


def yaml_value(value: Any) -> str:
    """A value as it is written in a spec (YAML, one line)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def type_text(annotation: Any) -> str:
    """The type of a field in words (without `None`: a field that may be left out says so in its
    default)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is Literal:
        values = [f"`{yaml_value(arg)}`" for arg in get_args(annotation)]
        return values[0] if len(values) == 1 else "one of " + ", ".join(values)
    if origin is list:
        (item,) = get_args(annotation)
        return f"list of {type_text(item)}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"mapping of {type_text(key)} to {type_text(value)}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in names:
        return names[annotation]
    if annotation is datetime.datetime:
        return "ISO 8601 time with a zone"
    raise TypeError(f"the spec reference cannot describe the type {annotation!r}; add it to type_text")


def constraints_text(field: FieldInfo) -> str:
    """Bounds and patterns pydantic enforces, like `≥ 1, ≤ 500`."""
    parts: list[str] = []
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            parts.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
        elif getattr(item, "pattern", None):
            parts.append(f"matching `{item.pattern}`")
    return ", ".join(parts)


def default_text(field: FieldInfo, path: str) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        if model_of(field) is not None:
            return f"[its fields' defaults](#{anchor(path)})"
        return f"`{yaml_value(field.default_factory())}`"  # type: ignore[call-arg]
    if field.default is None:
        return "not set"
    return f"`{yaml_value(field.default)}`"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def field_row(section: Section, name: str, field: FieldInfo) -> str:
    path = field_path(section, name)
    nested = model_of(field)
    kind = f"[mapping](#{anchor(path)})" if nested is not None else type_text(field.annotation)
    bounds = constraints_text(field)
    kind = f"{kind} ({bounds})" if bounds else kind
    examples = "<br>".join(f"`{yaml_value(example)}`" for example in field.examples or [])
    description = field.description or ""
    cells = (f"`{name}`", kind, default_text(field, path), description, examples)
    return "| " + " | ".join(cell(text) for text in cells) + " |"


def render_section(section: Section) -> str:
    title = "Top level: `attributes`" if section.path == TOP_LEVEL else section.path
    lines = [f"## {title}", ""]
    if section.summary:
        lines += [section.summary, ""]
    lines += ["| field | type | default | description | example |", "| --- | --- | --- | --- | --- |"]
    lines += [field_row(section, name, field) for name, field in section.model.model_fields.items()]
    return "\n".join(lines)


def render_reference() -> str:
    """The whole of docs/spec-reference.md."""
    contents = [f"- [{s.path}](#{anchor(s.path)})" for s in sections() if s.path != TOP_LEVEL]
    parts = [INTRO.rstrip(), "Sections:", "\n".join(contents), *(render_section(s) for s in sections())]
    return "\n\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kinesis_pipelines.schema.reference",
        description="The spec reference, generated from the pipeline spec's models.",
    )
    parser.add_argument(
        "--write", action="store_true", help=f"update {REFERENCE_PATH.name} in the checkout's docs/"
    )
    args = parser.parse_args(argv)
    text = render_reference()
    if args.write:
        if not REFERENCE_PATH.parent.is_dir():
            parser.error(f"no docs/ folder at {REFERENCE_PATH.parent}: run it in a checkout of the project")
        REFERENCE_PATH.write_text(text)
        print(f"wrote {REFERENCE_PATH}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
