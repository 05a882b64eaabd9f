"""Which Spark and which Python a pipeline runs with, checked together before anything runs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from kinesis_pipelines.errors import SpecError, ToolMissingError
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import check_runtime, driver_python, spark_of, spark_version_of
from kinesis_pipelines.tools import find_spark
from kinesis_pipelines_tests.e2e.helpers import make_spec


def fake_spark(root: Path, version: str, scala: str) -> Path:
    """The shape of a Spark distribution: bin/spark-submit and jars/spark-core_<scala>-<version>.jar."""
    (root / "bin").mkdir(parents=True)
    (root / "jars").mkdir()
    (root / "bin" / "spark-submit").write_text("#!/bin/sh\n")
    (root / "jars" / f"spark-core_{scala}-{version}.jar").write_bytes(b"")
    return root


def with_job(spec: PipelineSpec, **job: object) -> PipelineSpec:
    data = spec.model_dump(mode="json")
    data["job"].update(job)
    return PipelineSpec.model_validate(data)


def test_spark_home_wins_over_the_pyspark_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = fake_spark(tmp_path / "spark-3.5.4", "3.5.4", "2.12")
    monkeypatch.setenv("SPARK_HOME", str(home))
    found = find_spark()
    assert found is not None and (found.version, found.scala, found.source) == ("3.5.4", "2.12", "SPARK_HOME")
    assert found.submit == str(home / "bin" / "spark-submit")
    spec = make_spec("rt", shards=1)
    assert spark_version_of(spec) == "3.5.4"
    # a pipeline's own spark_home wins over SPARK_HOME
    other = fake_spark(tmp_path / "spark-4.0.1", "4.0.1", "2.13")
    assert spark_version_of(with_job(spec, spark_home=str(other))) == "4.0.1"


def test_without_spark_home_the_pyspark_extra_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARK_HOME", raising=False)
    found = find_spark()
    assert found is not None and found.source == "the pyspark package" and found.version == "3.3.0"


def test_a_declared_version_must_be_the_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARK_HOME", str(fake_spark(tmp_path / "s", "3.5.4", "2.12")))
    spec = make_spec("rt", shards=1, spark_version="3.3.0")
    with pytest.raises(SpecError, match=r"job.spark_version is 3\.3\.0, but the Spark .* is 3\.5\.4"):
        spark_version_of(spec)


def test_a_folder_that_is_not_spark_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    with pytest.raises(ToolMissingError, match=r"SPARK_HOME is .*, which is not a Spark installation"):
        find_spark()


def test_a_scala_213_build_of_a_212_line_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_HOME", str(fake_spark(tmp_path / "s", "3.5.4", "2.13")))
    with pytest.raises(SpecError, match=r"built for Scala 2\.13.*Spark 3\.5's connector for Scala 2\.12"):
        spark_version_of(make_spec("rt", shards=1))


def test_no_spark_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """An orchestrator without pyspark and without SPARK_HOME: validation says what to set; a
    declared version is enough to plan; a submit needs a Spark."""
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *args: None)
    spec = make_spec("rt", shards=1)
    with pytest.raises(SpecError, match=r"job\.spark_version: not set, and no Spark was found"):
        spark_version_of(spec)
    assert spark_version_of(with_job(spec, spark_version="4.2.0")) == "4.2.0"
    with pytest.raises(ToolMissingError, match=r"pip install 'kinesis-pipelines\[spark\]'"):
        spark_of(spec)


def test_a_driver_python_outside_the_spark_line_is_refused() -> None:
    python311 = shutil.which("python3.11")
    assert python311, "the machine's own Python 3.11 is part of this kind of machine"
    spec = make_spec("rt", shards=1, python=python311)  # Spark 3.3 from the pyspark extra
    with pytest.raises(
        SpecError, match=r"job.python: .* is Python 3\.11, but Spark 3\.3 runs Python 3\.7-3\.10"
    ):
        check_runtime(spec)
    assert check_runtime(make_spec("rt", shards=1)).line == "3.3"  # this interpreter: 3.10
    assert driver_python(make_spec("rt", shards=1)) == sys.executable


def test_a_missing_driver_python_is_named() -> None:
    with pytest.raises(SpecError, match=r"job.python: /nowhere/python3 is not an executable on this host"):
        check_runtime(make_spec("rt", shards=1, python="/nowhere/python3"))


def test_on_yarn_the_declared_node_python_is_checked() -> None:
    yarn = {"master": "yarn", "checkpoint_dir": "hdfs://nn/c", "sink": {"path": "hdfs://nn/o"}}
    assert driver_python(make_spec("rt", shards=1, **yarn)) == "python3"
    check_runtime(make_spec("rt", shards=1, **yarn))  # nothing to ask: not checked
    with pytest.raises(SpecError, match=r"python3 is Python 3\.12, but Spark 3\.3 runs Python 3\.7-3\.10"):
        check_runtime(make_spec("rt", shards=1, python_version="3.12", **yarn))


def test_plain_http_dynamodb_is_a_kcl2_feature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SDK v1's region-override file speaks HTTPS only; SDK v2's AWS_ENDPOINT_URL_* takes any URL."""
    data = make_spec("rt", shards=1).model_dump(mode="json")
    data["app_table"]["endpoint_url"] = "http://127.0.0.1:8000"
    spec = PipelineSpec.model_validate(data)
    with pytest.raises(SpecError, match=r"app_table.endpoint_url: .* plain http, but Spark 3\.3's connector"):
        check_runtime(spec)
    monkeypatch.setenv("SPARK_HOME", str(fake_spark(tmp_path / "s", "4.2.0", "2.13")))
    assert check_runtime(spec).profile.value == "kcl2"
