"""Reading a pipeline spec from YAML: templates ({{ env(...) }}), duplicate keys refused, and
pydantic's errors turned into one message naming the file, the line and the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.spec.model import PipelineSpec


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline spec file. Raises SpecError naming file, line and field."""
    path = Path(path)
    return parse_spec(_read_spec_text(path), source=str(path))


COMPONENT_TYPE = "kinesis_pipelines.components.KinesisPipeline"


def _read_spec_text(path: Path) -> str:
    """The spec file's text. A missing file, a directory, an unreadable file or bytes that are not
    UTF-8 give one SpecError naming the path (and, for bad bytes, the line and byte offset)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        where = "" if path.is_absolute() else f" (looked for {path.absolute()})"
        if path.is_dir():
            hint = f"; did you mean {path / 'defs.yaml'}?" if (path / "defs.yaml").is_file() else ""
            reason = f"it is a directory; pass the spec file itself{hint}"
        elif isinstance(exc, FileNotFoundError):
            reason = f"no such file{where}"
        else:
            reason = exc.strerror or str(exc)
        raise SpecError(f"{path}: cannot read the spec file: {reason}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        hint = " (it looks like UTF-16)" if utf16 else ""
        raise SpecError(
            f"{path}:{line}: not UTF-8 text{hint}: byte 0x{raw[exc.start]:02x} at byte offset "
            f"{exc.start} is not valid UTF-8; a pipeline spec must be UTF-8 text, so save the file "
            "as UTF-8"
        ) from exc


def parse_spec(text: str, source: str = "<spec>") -> PipelineSpec:
    """Validate a spec held in YAML: a bare spec, or a Dagster `defs.yaml` whose `type` is the
    KinesisPipeline component and whose `attributes` are the spec. `{{ env('X', 'default') }}`
    templates resolve as Dagster resolves them."""
    try:
        node = None if _is_blank(text) else yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None or _is_empty(node):
            raise SpecError(
                f"{source}: the file is empty; a pipeline spec needs type: {COMPONENT_TYPE} and "
                f"attributes: (`dg scaffold defs {COMPONENT_TYPE} NAME` writes one)"
            )
        _refuse_duplicate_keys(node, source)
        data = _construct(node)
    except yaml.YAMLError as exc:
        raise SpecError(_yaml_error_message(exc, text, source)) from exc
    if isinstance(data, dict) and "type" in data:
        if data["type"] != COMPONENT_TYPE:
            raise SpecError(f"{source}:1: type: {data['type']!r} is not a pipeline; use {COMPONENT_TYPE}")
        unknown = sorted(set(data) - {"type", "attributes"})
        if unknown:
            raise SpecError(f"{source}: {unknown[0]}: unknown key; allowed: type, attributes")
        data = data.get("attributes")
        node = _child(node, "attributes")
    if not isinstance(data, dict):
        where = f"{source}:{node.start_mark.line + 1}" if node is not None else source
        raise SpecError(f"{where}: a spec is a YAML mapping with keys name, stream, app_table, job")
    data = resolve_templates(data, source, node)
    return validate_spec_data(data, source=source, node=node)


def _yaml_error_message(exc: yaml.YAMLError, text: str, source: str) -> str:
    """One line: file, line and PyYAML's problem."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow, like NUL
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return (
            f"{source}:{line}: not valid YAML: character #x{code:04x} at offset {exc.position} "
            f"is not allowed ({exc.reason})"
        )
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{source}{where}: not valid YAML: {problem}"


def _is_blank(text: str) -> bool:
    """Only whitespace (tabs too, which PyYAML would refuse) and comments."""
    lines = text.lstrip("\ufeff").splitlines()
    return all(not line.strip() or line.lstrip().startswith("#") for line in lines)


def _is_empty(node: yaml.Node | None) -> bool:
    """Nothing, or only comments, whitespace or a bare `---`."""
    return node is None or (
        isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value == ""
    )


_MERGE_TAG = "tag:yaml.org,2002:merge"
_NO_KEY = object()


def _refuse_duplicate_keys(root: yaml.Node, source: str) -> None:
    """YAML lets a repeated key silently replace the earlier one; a spec refuses it, naming both
    lines. Checks the already composed tree (one parse), before `<<` merge keys are flattened, so
    overriding a merged-in key stays allowed. Keys compare as the loader builds them, so `1` and
    `0x1` are the same key, as they would be in the loaded mapping. An alias inside its own anchor
    (a recursive spec) is refused too."""
    component = isinstance(root, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == "type" for k, _ in root.value
    )

    def field(path: tuple) -> str:
        if component and len(path) > 1 and path[0] == "attributes":
            path = path[1:]  # fields are named as in every other message: inside attributes
        return ".".join(str(part) for part in path) or "(top level)"

    loader = yaml.SafeLoader("")
    try:
        problem = next(_key_problems(root, (), set(), set(), loader), None)
    finally:
        loader.dispose()
    if problem is None:
        return
    path, first, again = problem
    if first is again:
        raise SpecError(
            f"{source}:{first.start_mark.line + 1}: {field(path)}: an alias (*name) inside its own "
            "anchor (&name) makes the spec recursive; a spec cannot refer to itself"
        )
    raise SpecError(
        f"{source}:{again.start_mark.line + 1}: {field(path)}: duplicate key {path[-1]!r} (first at "
        f"line {first.start_mark.line + 1}); keep one (YAML would silently use the last)"
    )


def _key_problems(
    node: yaml.Node, path: tuple, seen: set[int], ancestors: set[int], loader: yaml.SafeLoader
) -> Iterator[tuple[tuple, yaml.Node, yaml.Node]]:
    """In document order: (path of the key, first key node, repeated key node) for a duplicate
    key; (path, node, node) for a node that contains itself through an alias."""
    if id(node) in ancestors:
        yield path, node, node
        return
    if id(node) in seen:  # an alias to an anchor checked already
        return
    seen.add(id(node))
    ancestors.add(id(node))
    if isinstance(node, yaml.MappingNode):
        firsts: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = _key_of(key_node, loader)
            if key is not _NO_KEY and key in firsts:
                yield (*path, key), firsts[key], key_node
            elif key is not _NO_KEY:
                firsts[key] = key_node
            part = key_node.value if key is _NO_KEY else key
            yield from _key_problems(value_node, (*path, part), seen, ancestors, loader)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _key_problems(item, (*path, index), seen, ancestors, loader)
    ancestors.discard(id(node))


def _key_of(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """A mapping key as the loader builds it; _NO_KEY for merge keys and keys that are not plain
    scalars (building the data reports those it cannot use)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
        return _NO_KEY
    try:
        key = loader.construct_object(node)
        hash(key)
    except (yaml.YAMLError, TypeError, ValueError, AttributeError, OverflowError):
        return _NO_KEY
    return key


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader whose value errors (`!!int abc`, `!!timestamp soon`) are YAML errors with a line,
    not a bare ValueError from deep inside PyYAML."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {_shown(node)} as {node.tag}", node.start_mark
            ) from exc


def _shown(node: yaml.Node) -> str:
    return repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"


def _construct(node: yaml.Node | None) -> Any:
    """Python data from an already composed node (one parse gives both data and line numbers)."""
    if node is None:
        return None
    loader = _SpecLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def resolve_templates(data: Any, source: str, node: yaml.Node | None, path: tuple = ()) -> Any:
    """Resolve Dagster-style `{{ ... }}` templates in strings; errors name file, line, field."""
    if isinstance(data, dict):
        return {key: resolve_templates(value, source, node, (*path, key)) for key, value in data.items()}
    if isinstance(data, list):
        return [resolve_templates(v, source, node, (*path, i)) for i, v in enumerate(data)]
    if not (isinstance(data, str) and "{{" in data):
        return data
    from dagster.components.resolved.context import ResolutionContext

    field = ".".join(str(p) for p in path)
    line = _line_of(node, list(path)) if node is not None else None
    where = f"{source}:{line}" if line else source
    try:
        value = ResolutionContext.default().resolve_value(data)
    except Exception as exc:
        raise SpecError(f"{where}: {field}: template {data!r} failed: {exc}") from exc
    if value is None:
        raise SpecError(
            f"{where}: {field}: template {data!r} gave nothing: an environment variable it "
            "reads is not set; set it or give a default, as in {{ env('NAME', 'default') }}"
        )
    return value


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return None


def validate_spec_data(
    data: dict[str, Any], source: str = "<spec>", node: yaml.Node | None = None
) -> PipelineSpec:
    """Validate already-parsed spec data, turning pydantic's errors into one readable SpecError."""
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source, node)) from exc


def format_validation_error(exc: ValidationError, source: str, node: yaml.Node | None = None) -> str:
    lines = [f"{source}: invalid pipeline spec ({exc.error_count()} problem(s))"]
    for error in exc.errors():
        loc = [part for part in error["loc"] if not str(part).startswith("function-")]
        field = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(node, loc) if node is not None else None
        where = f"{source}:{line}" if line else source
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; allowed here: " + ", ".join(_allowed_keys(loc[:-1]))
        elif error["type"] == "missing":
            message = "required field is missing"
        got = error.get("input")
        suffix = (
            f" (got {got!r})"
            if error["type"] not in {"missing", "extra_forbidden"} and not isinstance(got, dict)
            else ""
        )
        lines.append(f"  {where}: {field}: {message}{suffix}")
    return "\n".join(lines)


def _line_of(node: yaml.Node, loc: list[Any]) -> int | None:
    current = node
    line = current.start_mark.line + 1
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if k.value == str(part)), None)
            key = next((k for k, _ in current.value if k.value == str(part)), None)
            if match is None or key is None:
                return line
            line = key.start_mark.line + 1
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                return line
            current = current.value[part]
            line = current.start_mark.line + 1
        else:
            return line
    return line


def _allowed_keys(loc: list[Any]) -> list[str]:
    model: type[BaseModel] = PipelineSpec
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return sorted(model.model_fields)
