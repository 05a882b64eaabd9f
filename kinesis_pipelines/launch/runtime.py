"""Which Spark and which Python a pipeline's driver runs with, and whether they go together.

The orchestrator (CLI, Dagster, planning, supervision) runs on any Python 3.10-3.13 and needs no
pyspark. Spark is needed where the driver runs: a cluster's Spark, a Spark distribution on this
host (SPARK_HOME or `job.spark_home`), or the `kinesis-pipelines[spark]` extra. The driver's Python
is `job.python`, checked here against the Spark line it runs."""

from __future__ import annotations

from kinesis_pipelines.errors import SpecError, ToolMissingError
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.tools import (
    SparkInstallation,
    find_spark,
    python_executable,
    python_version_of,
    require_spark,
)
from kinesis_pipelines.versions import ConnectorProfile, SparkLine, spark_line

YARN_NODE_PYTHON = "python3"


def spark_of(spec: PipelineSpec) -> SparkInstallation:
    """The Spark this pipeline submits with, or ToolMissingError saying how to provide one."""
    try:
        return require_spark(spec.job.spark_home)
    except ToolMissingError as exc:
        raise ToolMissingError(f"pipeline {spec.name}: {exc}") from exc


def spark_version_of(spec: PipelineSpec) -> str:
    """`job.spark_version`, else the version of the Spark the submit uses; they must agree, because
    the connector is built for one Spark release."""
    try:
        installed = find_spark(spec.job.spark_home)
    except ToolMissingError as exc:
        raise SpecError(f"job.spark_home: {exc}") from exc
    declared = spec.job.spark_version
    if declared and installed and declared != installed.version:
        raise SpecError(
            f"job.spark_version is {declared}, but the Spark this pipeline submits with "
            f"({installed.source}, {installed.home}) is {installed.version}; the connector must be "
            f"the Spark's own release: set job.spark_version to {installed.version}, or point "
            f"job.spark_home (or SPARK_HOME) at a Spark {declared}"
        )
    if installed:
        line = spark_line(installed.version)
        if installed.scala != line.scala:
            raise SpecError(
                f"job.spark_home: the Spark at {installed.home} is built for Scala {installed.scala}; "
                f"the package builds Spark {line.line}'s connector for Scala {line.scala}: use a Spark "
                f"{installed.version} distribution built for Scala {line.scala}"
            )
    if declared:
        return declared
    if installed:
        return installed.version
    raise SpecError(
        "job.spark_version: not set, and no Spark was found to take it from (job.spark_home, "
        "SPARK_HOME, or the pyspark extra): set job.spark_version, or point SPARK_HOME at the "
        "Spark the pipeline submits with"
    )


def line_of(spec: PipelineSpec) -> SparkLine:
    return spark_line(spark_version_of(spec))


def driver_python(spec: PipelineSpec) -> str:
    """The Python of the driver and executors: `job.python`, else this interpreter for a driver on
    this host, else the nodes' `python3` on YARN."""
    if spec.job.python:
        return spec.job.python
    return YARN_NODE_PYTHON if spec.job.master == "yarn" else python_executable()


def check_runtime(spec: PipelineSpec) -> SparkLine:
    """Spark, connector profile and driver Python go together; SpecError saying what to change.
    A driver Python on this host is asked its version; one on YARN's nodes is taken from
    `job.python_version` when given (nothing here can ask it)."""
    line = line_of(spec)
    python = driver_python(spec)
    if spec.job.master == "yarn":
        declared = spec.job.python_version
        major, _, minor = (declared or "").partition(".")
        version = (int(major), int(minor)) if declared else None
    else:
        try:
            version = python_version_of(python)
        except ToolMissingError as exc:
            raise SpecError(str(exc)) from exc
    if version is not None and not line.runs_python(version):
        which = "this interpreter" if python == python_executable() else python
        raise SpecError(
            f"job.python: {which} is Python {version[0]}.{version[1]}, but Spark {line.line} runs "
            f"Python {line.python_range}: set job.python to a Python in that range (with pydantic "
            f"and boto3) where the driver runs, or use a Spark line that supports "
            f"{version[0]}.{version[1]}"
        )
    check_profile(spec, line)
    return line


def check_profile(spec: PipelineSpec, line: SparkLine) -> None:
    """Features that only one connector profile offers, refused with the reason.

    KCL 1 (AWS SDK v1) reaches DynamoDB and CloudWatch at an overridden endpoint only through a
    region-override file, which speaks HTTPS only; KCL 2 (SDK v2) takes any URL from
    AWS_ENDPOINT_URL_<SERVICE>."""
    if line.profile is ConnectorProfile.KCL1:
        for field, url in (
            ("app_table.endpoint_url", spec.app_table.endpoint_url),
            ("cloudwatch_endpoint_url", spec.cloudwatch_endpoint_url),
        ):
            if url and url.startswith("http://"):
                raise SpecError(
                    f"{field}: {url} is plain http, but Spark {line.line}'s connector (KCL 1 on AWS "
                    "SDK v1) reaches an overridden DynamoDB or CloudWatch endpoint over HTTPS only: "
                    "use an https:// endpoint, or a Spark 4.2+ pipeline (KCL 2, which takes any URL)"
                )
