"""Validating a pipeline file completely: YAML, spec rules, templates and the processor import.
The CLI and the Dagster component both call this, so they report the same error."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.spec.model import PipelineSpec
from kinesis_pipelines.spec.reading import load_spec
from kinesis_pipelines.spec.runtime import Runtime, resolve_runtime


def check_processor(processor: str) -> None:
    """Import the processor now, so a typo fails the deploy instead of the driver."""
    module_name, _, function_name = processor.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise SpecError(
            f"job.processor: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(getattr(module, function_name, None)):
        raise SpecError(
            f"job.processor: {module_name!r} has no function {function_name!r}; a processor is "
            "'module:function' where function takes a DStream of str and returns a DStream"
        )


def validate_pipeline_file(path: Path) -> PipelineSpec:
    """The spec in `path`, with its processor imported and its Spark, connector profile and
    driver Python checked together; SpecError naming the file, the line and the field."""
    return validated_pipeline(path)[0]


def validated_pipeline(path: Path) -> tuple[PipelineSpec, Runtime]:
    """`validate_pipeline_file`, and the runtime it resolved on the way, for the caller to keep."""
    spec = load_spec(path)
    try:
        check_processor(spec.job.processor)
        runtime = resolve_runtime(spec)
    except SpecError as exc:
        field = str(exc).split(":", 1)[0].split(" ", 1)[0]
        line = _field_line(path, field)
        where = f"{path}:{line}" if line else str(path)
        raise SpecError(f"{where}: {exc}") from exc
    return spec, runtime


def validated_spec(spec: PipelineSpec) -> Runtime:
    """A spec built in Python (no file to name): its processor imported and its runtime resolved,
    SpecError naming the pipeline."""
    try:
        check_processor(spec.job.processor)
        return resolve_runtime(spec)
    except SpecError as exc:
        raise SpecError(f"pipeline {spec.name}: {exc}") from exc


def _field_line(path: Path, dotted: str) -> int | None:
    """The line of a dotted field (job.python: `job:`, then `python:` after it)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found, start = None, 0
    for part in dotted.split("."):
        found = next(
            (n for n, line in enumerate(lines[start:], start + 1) if line.strip().startswith(f"{part}:")),
            None,
        )
        if found is None:
            return None
        start = found
    return found


def check_pipelines_apart(specs: Sequence[PipelineSpec], sources: Sequence[str] = ()) -> None:
    """Pipelines in one code location must not share a name or a KCL application table."""
    where = dict(zip([s.name for s in specs], sources, strict=False))
    seen_names: dict[str, str] = {}
    seen_tables: dict[tuple[str, str | None, str], str] = {}
    for spec in specs:
        label = where.get(spec.name, spec.name)
        if spec.name in seen_names:
            raise SpecError(
                f"{label}: name: pipeline name {spec.name!r} is already used by "
                f"{seen_names[spec.name]}; pipeline names must be unique"
            )
        seen_names[spec.name] = label
        table = (spec.stream.region, spec.app_table.endpoint_url, spec.app_table.application_name)
        if table in seen_tables:
            raise SpecError(
                f"{label}: app_table.application_name: {spec.app_table.application_name!r} is "
                f"also the application table of {seen_tables[table]}; two pipelines on one table "
                "would steal each other's shard leases: give each its own application name"
            )
        seen_tables[table] = f"pipeline {spec.name}"
