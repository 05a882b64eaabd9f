"""Which Spark and which Python a pipeline's driver runs with, and whether they go together,
worked out once per operation into one frozen value (`Runtime`, from `resolve_runtime`) that the
plan, the deploy, the assembly build and the submit all take: nothing outside `spec/` asks the file
system for Spark or an interpreter for its version.

The orchestrator (CLI, Dagster, planning, supervision) runs on any Python 3.10-3.13 and needs no
pyspark. Spark is needed where the driver runs: a cluster's Spark, a Spark distribution on this
host (SPARK_HOME or `job.spark_home`), or the `kinesis-pipelines[spark]` extra. The driver's Python
is `job.python`, checked here against the Spark line it runs."""

from __future__ import annotations

from dataclasses import dataclass

from kinesis_pipelines.errors import SpecError, ToolMissingError
from kinesis_pipelines.spec.model import PipelineSpec
from kinesis_pipelines.tools import (
    SparkInstallation,
    find_spark,
    python_executable,
    python_version_of,
    require_spark,
)
from kinesis_pipelines.versions import ConnectorProfile, SparkLine, spark_line

YARN_NODE_PYTHON = "python3"


@dataclass(frozen=True)
class Runtime:
    """What one pipeline runs with: the Spark release and its line (Scala, connector profile,
    Pythons it runs), the driver's and executors' Python, and the Spark installation on this host
    that submits it (None when this host has none: a plan still shows the line; a deploy refuses)."""

    spark_version: str
    line: SparkLine
    python: str
    installation: SparkInstallation | None
    missing_spark: str = ""  # why there is no installation, with how to provide one

    @property
    def spark(self) -> SparkInstallation:
        """The Spark that submits, or ToolMissingError saying how to provide one."""
        if self.installation is None:
            raise ToolMissingError(self.missing_spark)
        return self.installation


def installed_spark_version() -> str | None:
    """The release of the Spark this host submits with by default (SPARK_HOME, else the pyspark
    extra), for what is built without a pipeline (`kinesis-pipelines assembly`); None if none."""
    spark = find_spark()
    return spark.version if spark else None


def runtime_with(spec: PipelineSpec, installation: SparkInstallation) -> Runtime:
    """The runtime of a pipeline submitted with a given Spark, unchecked (a plan shown with a
    placeholder Spark, a test, a benchmark's hand-built submit)."""
    version = spec.job.spark_version or installation.version
    return Runtime(
        spark_version=version, line=spark_line(version), python=driver_python(spec), installation=installation
    )


def resolve_runtime(spec: PipelineSpec) -> Runtime:
    """The pipeline's runtime, checked: the declared Spark is the installed one, the driver's
    Python runs on that Spark line, and the connector profile offers what the spec asks.
    SpecError saying what to change."""
    try:
        installed = find_spark(spec.job.spark_home)
    except ToolMissingError as exc:
        raise SpecError(f"job.spark_home: {exc}") from exc
    version = _spark_version(spec, installed)
    line = spark_line(version)
    python = driver_python(spec)
    _check_python(spec, line, python)
    check_profile(spec, line)
    missing = ""
    if installed is None:
        try:
            require_spark(spec.job.spark_home)
        except ToolMissingError as exc:
            missing = f"pipeline {spec.name}: {exc}"
    return Runtime(
        spark_version=version, line=line, python=python, installation=installed, missing_spark=missing
    )


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
    return _spark_version(spec, installed)


def _spark_version(spec: PipelineSpec, installed: SparkInstallation | None) -> str:
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


def driver_python(spec: PipelineSpec) -> str:
    """The Python of the driver and executors: `job.python`, else this interpreter for a driver on
    this host, else the nodes' `python3` on YARN."""
    if spec.job.python:
        return spec.job.python
    return YARN_NODE_PYTHON if spec.job.master == "yarn" else python_executable()


def check_runtime(spec: PipelineSpec) -> SparkLine:
    """Spark, connector profile and driver Python go together; SpecError saying what to change."""
    return resolve_runtime(spec).line


def _check_python(spec: PipelineSpec, line: SparkLine, python: str) -> None:
    """A driver Python on this host is asked its version; one on YARN's nodes is taken from
    `job.python_version` when given (nothing here can ask it)."""
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
