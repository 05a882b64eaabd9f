"""The spec reference in docs/ is the one generated from the spec's models, and the models give it
something to say: a description on every field, an example for every field a spec must set, and
examples that the spec itself accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from kinesis_pipelines.schema.reference import (
    REFERENCE_PATH,
    REGENERATE,
    render_reference,
    yaml_value,
)
from kinesis_pipelines.spec import PipelineSpec


def every_field(
    model: type[BaseModel] = PipelineSpec, prefix: str = ""
) -> Iterator[tuple[str, Any, FieldInfo]]:
    """(dotted path, the model that declares it, its FieldInfo) of every field, nested ones too:
    walked here on its own, not with the generator's walk, so a field the generator skips is seen."""
    for name, field in model.model_fields.items():
        yield f"{prefix}{name}", model, field
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from every_field(annotation, f"{prefix}{name}.")


def rendered_rows(text: str) -> dict[str, str]:
    """Dotted path of each field row in the rendered reference -> its row."""
    rows: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            title = line.removeprefix("## ")
            section = "" if title.startswith("Top level") else title + "."
        elif match := re.match(r"^\| `([a-z_]+)` \|", line):
            rows[section + match.group(1)] = line
    return rows


def test_the_shipped_reference_is_the_generated_one() -> None:
    shipped = REFERENCE_PATH.read_text() if REFERENCE_PATH.exists() else ""
    assert shipped == render_reference(), (
        f"docs/spec-reference.md is stale (the spec's models changed): regenerate it with "
        f"`.venv/bin/{REGENERATE}` and commit it"
    )


def test_every_field_of_the_spec_has_a_row_with_its_type_default_and_description() -> None:
    rows = rendered_rows(render_reference())
    fields = {path: field for path, _, field in every_field()}
    assert len(fields) > 60  # the walk saw the nested models
    assert set(rows) == set(fields)
    for path, field in fields.items():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", rows[path])[1:-1]]
        assert len(cells) == 5, rows[path]
        name, kind, default, description, _ = cells
        assert name == f"`{path.rsplit('.', 1)[-1]}`" and kind and default, rows[path]
        assert description == " ".join((field.description or "").split()).replace("|", "\\|"), rows[path]
        if field.is_required():
            assert default == "**required**", rows[path]
    assert "| number (> 0, ≤ 3600) | `2.0` |" in rows["job.batch_interval_seconds"]
    assert "one of `LATEST`, `TRIM_HORIZON`, `AT_TIMESTAMP` | `TRIM_HORIZON`" in rows["job.initial_position"]
    assert "[its fields' defaults](#supervisionrestart)" in rows["supervision.restart"]
    assert "| not set |" in rows["credentials.role_arn"]
    assert "`arn:aws:iam::123456789012:role/kp-orders`" in rows["credentials.role_arn"]


def test_every_field_has_a_description() -> None:
    missing = [path for path, _, field in every_field() if not (field.description or "").strip()]
    assert missing == [], (
        f"fields without a description: {', '.join(missing)}; add description=... to their Field() "
        f"(kinesis_pipelines/spec.py or the policy models it uses), then `.venv/bin/{REGENERATE}`"
    )


def test_every_field_a_spec_must_set_has_an_example() -> None:
    missing = [
        path
        for path, _, field in every_field()
        if field.is_required() and not field.examples and not _holds_a_model(field)
    ]
    assert missing == [], f"required fields without examples=[...]: {', '.join(missing)}"


EXAMPLES = [
    (path, model, field, example) for path, model, field in every_field() for example in field.examples or []
]


@pytest.mark.parametrize(
    ("path", "model", "field", "example"), EXAMPLES, ids=[f"{e[0]}={yaml_value(e[3])}" for e in EXAMPLES]
)
def test_each_example_is_a_value_the_spec_accepts(
    path: str, model: type[BaseModel], field: FieldInfo, example: Any
) -> None:
    """The field's type and bounds, then its own validators (the rules of that one field; rules
    across fields are the spec tests' business)."""
    annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    value: Any = TypeAdapter(annotation).validate_python(example)
    name = path.rsplit(".", 1)[-1]
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if name in decorator.info.fields and decorator.info.mode == "after":
            value = decorator.func(value)


def test_a_bad_example_would_be_caught() -> None:
    """The check above can fail: a stream name with a space is refused by the field's validator."""
    from kinesis_pipelines.spec import StreamSpec

    field = StreamSpec.model_fields["name"]
    with pytest.raises(ValueError, match="stream name"):
        test_each_example_is_a_value_the_spec_accepts("stream.name", StreamSpec, field, "shop orders")


def _holds_a_model(field: FieldInfo) -> bool:
    return isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
