"""The one place that names the Spark, connector and library versions the package runs with.

Spark's Kinesis connector (`spark-streaming-kinesis-asl`) is published to Maven Central for Scala
2.12 up to Spark 3.3.0 on the registries this project builds from; pyspark 3.3.0 from PyPI matches
it exactly (same Spark version, Scala 2.12 inside). Spark 3.3 ships the KCL 1 line on AWS SDK v1.
"""

from __future__ import annotations

SPARK_VERSION = "3.3.0"
SCALA_BINARY_VERSION = "2.12"
CONNECTOR_VERSION = SPARK_VERSION
KCL_VERSION = "1.12.0"
AWS_SDK_VERSION = "1.11.655"
# Bundled and relocated in the assembly because Spark ships older, incompatible copies.
GUAVA_VERSION = "26.0-jre"
PROTOBUF_VERSION = "2.6.1"

CONNECTOR_COORDINATES = (
    f"org.apache.spark:spark-streaming-kinesis-asl_{SCALA_BINARY_VERSION}:{CONNECTOR_VERSION}"
)
# The class that `pyspark.streaming.kinesis.KinesisUtils` calls through py4j.
PYTHON_HELPER_CLASS = "org.apache.spark.streaming.kinesis.KinesisUtilsPythonHelper"
# The package's own helper in the assembly: input DStreams whose elements carry each record's key.
KEYED_STREAMS_CLASS = "io.kinesispipelines.spark.KeyedKinesisStreams"
SUPPORTED_SPARK_VERSIONS = (SPARK_VERSION,)
