"""Deploy and operate Spark Streaming jobs that read Amazon Kinesis, orchestrated by Dagster.

The names below are imported when first used: the executors' Python workers import modules of
this package (the sink, the delivery ledger) and should not pay for the spec's models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kinesis_pipelines.errors import KinesisPipelinesError
    from kinesis_pipelines.spec import PipelineSpec, load_spec

__all__ = ["KinesisPipelinesError", "PipelineSpec", "load_spec"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "KinesisPipelinesError":
        from kinesis_pipelines.errors import KinesisPipelinesError

        return KinesisPipelinesError
    if name in ("PipelineSpec", "load_spec"):
        from kinesis_pipelines import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'kinesis_pipelines' has no attribute {name!r}")
