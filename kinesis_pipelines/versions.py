"""The one place that names the Spark lines the package runs with, and what differs between them.

Spark's Kinesis connector is `org.apache.spark:spark-streaming-kinesis-asl_<scala>:<spark version>`
on Maven Central, one per Spark release; the connector and the Spark that runs it must be the same
release. What the package does around it depends on the line:

- **KCL 1 profile** (Spark 3.x to 4.1): the Kinesis Client Library 1.x on AWS SDK v1. SDK v1 has no
  setting for the DynamoDB or CloudWatch endpoint, so for emulators the driver and executors read a
  region-override file (HTTPS only, hence a trust store) and turn CBOR off. KCL 1's Guava and
  protobuf are newer than Spark's and are bundled relocated.
- **KCL 2 profile** (Spark 4.2 and later): KCL 2.x on AWS SDK v2, which reads
  `AWS_ENDPOINT_URL_<SERVICE>` from the environment; no override file. The receiver polls
  (GetRecords), it does not use enhanced fan-out.

Pure data and lookups: nothing here touches the machine.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

from kinesis_pipelines.errors import SpecError

# The class that `pyspark.streaming.kinesis.KinesisUtils` calls through py4j.
PYTHON_HELPER_CLASS = "org.apache.spark.streaming.kinesis.KinesisUtilsPythonHelper"
# The package's own helper in the assembly: input DStreams whose elements carry each record's key.
KEYED_STREAMS_CLASS = "io.kinesispipelines.spark.KeyedKinesisStreams"
# The Spark release tested end to end here (the newest whose connector these machines can fetch).
TESTED_SPARK_VERSION = "3.3.0"


class ConnectorProfile(str, Enum):
    KCL1 = "kcl1"
    KCL2 = "kcl2"


@dataclass(frozen=True)
class SparkLine:
    """One Spark minor line: its connector's libraries and the Pythons and Java it runs on."""

    line: str
    scala: str
    profile: ConnectorProfile
    kcl: str
    aws_sdk: str
    java_release: int  # the helper's bytecode level: the oldest Java the line runs on
    python_min: tuple[int, int]
    python_max: tuple[int, int]
    # Bundled and relocated in the assembly because Spark ships older, incompatible copies (KCL 1).
    guava: str | None = None
    protobuf: str | None = None
    tested_here: bool = False

    @property
    def python_range(self) -> str:
        return f"{_dotted(self.python_min)}-{_dotted(self.python_max)}"

    def runs_python(self, version: tuple[int, int]) -> bool:
        return self.python_min <= version <= self.python_max

    @property
    def emulator_settings(self) -> str:
        if self.profile is ConnectorProfile.KCL1:
            return "region-override file + trust store, CBOR off"
        return "AWS_ENDPOINT_URL_DYNAMODB / _CLOUDWATCH / _STS in the driver's and executors' environment"


# From each line's released spark-parent POM, connector POM and pyspark's python_requires and
# classifiers (docs/spark.md: "Spark lines").
# KCL 1 lines bundle KCL's own Guava and protobuf, relocated
_kcl1 = functools.partial(SparkLine, profile=ConnectorProfile.KCL1, guava="26.0-jre", protobuf="2.6.1")
SPARK_LINES: tuple[SparkLine, ...] = (
    _kcl1("3.3", "2.12", kcl="1.12.0", aws_sdk="1.11.655", java_release=8,
          python_min=(3, 7), python_max=(3, 10), tested_here=True),
    _kcl1("3.4", "2.12", kcl="1.12.0", aws_sdk="1.11.655", java_release=8,
          python_min=(3, 7), python_max=(3, 11)),
    _kcl1("3.5", "2.12", kcl="1.12.0", aws_sdk="1.11.655", java_release=8,
          python_min=(3, 8), python_max=(3, 11)),
    _kcl1("4.0", "2.13", kcl="1.12.0", aws_sdk="1.11.655", java_release=17,
          python_min=(3, 9), python_max=(3, 13)),
    _kcl1("4.1", "2.13", kcl="1.15.3", aws_sdk="1.12.681", java_release=17,
          python_min=(3, 10), python_max=(3, 14)),
    SparkLine("4.2", "2.13", profile=ConnectorProfile.KCL2, kcl="2.7.2", aws_sdk="2.35.4",
              java_release=17, python_min=(3, 10), python_max=(3, 14)),
)  # fmt: skip
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def spark_line(spark_version: str) -> SparkLine:
    """The line of a Spark release ("3.5.4" -> 3.5), or SpecError naming the supported ones."""
    match = _VERSION.match(spark_version)
    if match is None:
        raise SpecError(
            f"job.spark_version: {spark_version!r} is not a Spark release; write it as "
            f"major.minor.patch, for example {TESTED_SPARK_VERSION}"
        )
    line = f"{match.group(1)}.{match.group(2)}"
    for known in SPARK_LINES:
        if known.line == line:
            return known
    raise SpecError(
        f"job.spark_version: Spark {spark_version} is not supported; supported lines: "
        f"{', '.join(known.line for known in SPARK_LINES)} (each with its own kinesis-asl connector)"
    )


def connector_coordinates(spark_version: str) -> str:
    return f"org.apache.spark:spark-streaming-kinesis-asl_{spark_line(spark_version).scala}:{spark_version}"


def _dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
