"""The component's attributes as a defs.yaml gives them, typed from the spec's own models.

Each section of the spec (`stream`, `job`, `job.sink`, ...) gets a JSON schema with the same
fields, types, bounds, defaults and descriptions, where any value may instead be a template
(`{{ env('X', 'default') }}`) that the spec renders when it is built. The component publishes it
as its attributes' schema: `dg check yaml` checks a defs.yaml against it (a wrong or unknown
nested field, with its file and line, before anything runs) and editors complete from it. A load
leaves the checking to the spec itself, which names the file, line and field in the words
`kinesis-pipelines validate` uses, and adds the rules a schema cannot hold (names, endpoints,
secrets, fields that depend on each other).
"""

from __future__ import annotations

import functools
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, create_model
from pydantic_core import PydanticUndefined

TEMPLATE_PATTERN = r"\{\{.*\}\}"
Template = Annotated[str, StringConstraints(pattern=TEMPLATE_PATTERN)]
"""A value the spec renders later: `{{ env('NAME') }}` or `{{ env('NAME', 'default') }}`."""


@functools.cache
def yaml_shape(model: type[BaseModel]) -> type[BaseModel]:
    """`model` as YAML gives it: the same fields, each of its type or a template; unknown keys
    refused."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        default: dict[str, Any] = (
            {"default_factory": info.default_factory}
            if info.default_factory is not None
            else {}
            if info.default is PydanticUndefined
            else {"default": info.default}
        )
        fields[name] = (
            yaml_type(info.annotation, info.metadata),
            Field(description=info.description, examples=info.examples, **default),
        )
    shape = create_model(
        f"{model.__name__}Yaml",
        __config__=ConfigDict(extra="forbid", title=model.__name__),
        __doc__=model.__doc__,
        **fields,
    )
    return shape


def yaml_type(annotation: Any, metadata: list[Any]) -> Any:
    """A field's type as YAML may give it: its own (with its bounds), or a template."""
    branches = _branches(annotation, metadata)
    if str not in branches:
        branches.append(Template)
    return branches[0] if len(branches) == 1 else Union[tuple(branches)]  # noqa: UP007


def _branches(annotation: Any, metadata: list[Any]) -> list[Any]:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is NoneType:
        return [NoneType]
    if origin in (Union, UnionType):
        return [branch for arg in args for branch in _branches(arg, metadata)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [yaml_shape(annotation)]
    if origin is list:
        return [list.__class_getitem__(yaml_type(args[0], []))]
    if origin is dict:
        return [dict.__class_getitem__((args[0], yaml_type(args[1], [])))]
    return [Annotated.__class_getitem__((annotation, *metadata)) if metadata else annotation]  # type: ignore[attr-defined]


def yaml_schema(annotation: Any, metadata: list[Any]) -> dict[str, Any]:
    """The JSON schema of a field as YAML may give it: self-contained (every `$ref` inlined, so it
    can sit anywhere), and with a template folded into the value's own schema where JSON Schema
    allows it (`{"type": ["integer", "string"], "minimum": 1, "pattern": ...}`: bounds apply to
    numbers, the pattern to strings), so a checker reports "0 is less than the minimum of 1" at
    the value's line rather than "not valid under any of the given schemas" at its section's."""
    schema = TypeAdapter(yaml_type(annotation, metadata)).json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
                return _fold_template({**target, **{k: inline(v) for k, v in node.items() if k != "$ref"}})
            return _fold_template({key: inline(value) for key, value in node.items()})
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return inline(schema)


TEMPLATE_SCHEMA = {"pattern": TEMPLATE_PATTERN, "type": "string"}
SCALAR_KEYS = {"type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
SCALAR_TYPES = {"integer", "number", "boolean", "null"}


def _fold_template(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [<value's schema>..., <template>]` as one schema where that keeps its meaning."""
    branches = node.get("anyOf")
    if not branches or TEMPLATE_SCHEMA not in branches:
        return node
    others = [branch for branch in branches if branch != TEMPLATE_SCHEMA]
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if len(others) == 1 and others[0].get("type") == "object":
        return {**others[0], **rest}  # a section: given as a mapping, never as one template
    if all(set(branch) <= SCALAR_KEYS and branch.get("type") in SCALAR_TYPES for branch in others):
        folded: dict[str, Any] = {"type": [*(branch["type"] for branch in others), "string"]}
        for branch in others:
            folded.update({key: value for key, value in branch.items() if key != "type"})
        return {**rest, **folded, "pattern": TEMPLATE_PATTERN}
    return node


def attributes_schema() -> dict[str, Any]:
    """The JSON schema of a KinesisPipeline's attributes (the spec as YAML gives it)."""
    from kinesis_pipelines.spec import PipelineSpec

    schema = yaml_schema(PipelineSpec, [])
    return {key: value for key, value in schema.items() if key != "title"} | {
        "title": "KinesisPipeline attributes"
    }
