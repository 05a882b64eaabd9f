"""The Spark lines table: every line resolvable, each with its connector profile and Pythons."""

from __future__ import annotations

import pytest

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.versions import SPARK_LINES, ConnectorProfile, connector_coordinates, spark_line


@pytest.mark.parametrize(
    ("version", "scala", "profile", "pythons"),
    [
        ("3.3.0", "2.12", ConnectorProfile.KCL1, "3.7-3.10"),
        ("3.4.4", "2.12", ConnectorProfile.KCL1, "3.7-3.11"),
        ("3.5.4", "2.12", ConnectorProfile.KCL1, "3.8-3.11"),
        ("4.0.1", "2.13", ConnectorProfile.KCL1, "3.9-3.13"),
        ("4.1.0", "2.13", ConnectorProfile.KCL1, "3.10-3.14"),
        ("4.2.0", "2.13", ConnectorProfile.KCL2, "3.10-3.14"),
    ],
)
def test_each_line(version: str, scala: str, profile: ConnectorProfile, pythons: str) -> None:
    line = spark_line(version)
    assert (line.scala, line.profile, line.python_range) == (scala, profile, pythons)
    assert connector_coordinates(version) == f"org.apache.spark:spark-streaming-kinesis-asl_{scala}:{version}"


def test_only_the_kcl1_lines_bundle_guava_and_protobuf() -> None:
    for line in SPARK_LINES:
        assert (line.guava is not None) is (line.profile is ConnectorProfile.KCL1)
    assert [line.line for line in SPARK_LINES if line.tested_here] == ["3.3"]


@pytest.mark.parametrize(("version", "message"), [("2.4.8", "supported lines"), ("4.2", "major.minor.patch")])
def test_unknown_versions_are_refused(version: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spark_line(version)
