"""The one Dagster entry point: the shipped example pipelines on the embedded local AWS."""

from __future__ import annotations

from pathlib import Path

from kinesis_pipelines.defs import build_definitions
from kinesis_pipelines.spec import load_spec

EXAMPLES = Path(__file__).with_name("examples")

defs = build_definitions([load_spec(path) for path in sorted(EXAMPLES.glob("*.yaml"))])
