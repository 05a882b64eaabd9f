"""Deploy and operate Spark Streaming jobs that read Amazon Kinesis, orchestrated by Dagster."""

from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.spec import PipelineSpec, load_spec

__all__ = ["KinesisPipelinesError", "PipelineSpec", "load_spec"]
__version__ = "0.1.0"
