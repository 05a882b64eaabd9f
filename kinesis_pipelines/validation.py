"""Validating a pipeline file completely: YAML, spec rules, templates and the processor import.
The CLI and the Dagster component both call this, so they report the same error."""

from pathlib import Path

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.spec import PipelineSpec, load_spec


def validate_pipeline_file(path: Path) -> PipelineSpec:
    spec = load_spec(path)
    from kinesis_pipelines.launch.submit import check_processor

    try:
        check_processor(spec.job.processor)
    except SpecError as exc:
        line = _processor_line(path)
        where = f"{path}:{line}" if line else str(path)
        raise SpecError(f"{where}: {exc}") from exc
    return spec


def _processor_line(path: Path) -> int | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    return next((n for n, line in enumerate(lines, 1) if line.strip().startswith("processor:")), None)
