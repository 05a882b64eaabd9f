"""Finding the external programs the package drives, with errors that say how to install them."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kinesis_pipelines.errors import ToolMissingError

INSTALL_HINTS = {
    "java": "install a Java 17 JDK (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME",
    "keytool": "install a Java 17 JDK (keytool ships with it) or set JAVA_HOME",
    "mvn": "install Maven 3.8+ (Debian: apt-get install maven)",
    "node": "install Node.js 18+ (Debian: apt-get install nodejs npm)",
    "npm": "install npm (Debian: apt-get install npm)",
}
_SPARK_CORE_JAR = re.compile(r"^spark-core_(\d+\.\d+)-(\d+\.\d+\.\d+)\.jar$")


def require(tool: str, purpose: str) -> str:
    """The absolute path of `tool`, or ToolMissingError naming what needed it and how to fix it."""
    java_home = os.environ.get("JAVA_HOME")
    if tool in {"java", "keytool"} and java_home:
        candidate = Path(java_home) / "bin" / tool
        if candidate.exists():
            return str(candidate)
    found = shutil.which(tool)
    if found is None:
        hint = INSTALL_HINTS.get(tool, f"install {tool}")
        raise ToolMissingError(f"{tool} is needed to {purpose} but is not on PATH: {hint}")
    return found


@dataclass(frozen=True)
class SparkInstallation:
    """A Spark found on this host: a distribution (a cluster's client or a download) or the
    pyspark package, which holds a whole Spark."""

    home: Path
    version: str
    scala: str
    source: str  # how it was found, for messages

    @property
    def submit(self) -> str:
        return str(self.home / "bin" / "spark-submit")

    @property
    def spark_class(self) -> str:
        return str(self.home / "bin" / "spark-class")


def find_spark(spark_home: str | None = None) -> SparkInstallation | None:
    """The Spark a submit uses: `spark_home` (a pipeline's job.spark_home), else SPARK_HOME, else
    the pyspark package of this interpreter (the `kinesis-pipelines[spark]` extra); None when
    there is none. pyspark is located, never imported."""
    if spark_home:
        return _installation(Path(spark_home), "job.spark_home")
    if os.environ.get("SPARK_HOME"):
        return _installation(Path(os.environ["SPARK_HOME"]), "SPARK_HOME")
    found = importlib.util.find_spec("pyspark")
    if found is None or not found.submodule_search_locations:
        return None
    return _installation(Path(next(iter(found.submodule_search_locations))), "the pyspark package")


def require_spark(spark_home: str | None = None) -> SparkInstallation:
    spark = find_spark(spark_home)
    if spark is None:
        raise ToolMissingError(
            "no Spark found to submit with: set SPARK_HOME to a Spark installation (a cluster's "
            "client or a downloaded distribution), set job.spark_home in the pipeline, or install "
            "the pyspark extra: pip install 'kinesis-pipelines[spark]'"
        )
    return spark


def _installation(home: Path, source: str) -> SparkInstallation:
    cores = sorted((home / "jars").glob("spark-core_*.jar"))
    match = _SPARK_CORE_JAR.match(cores[0].name) if cores else None
    if match is None or not (home / "bin" / "spark-submit").exists():
        raise ToolMissingError(
            f"{source} is {home}, which is not a Spark installation (no bin/spark-submit and "
            "jars/spark-core_<scala>-<version>.jar): point it at the folder that holds bin/ and jars/"
        )
    return SparkInstallation(home=home, version=match.group(2), scala=match.group(1), source=source)


def spark_submit(spark_home: str | None = None) -> str:
    """The spark-submit of the Spark that `find_spark` picks."""
    return require_spark(spark_home).submit


def spark_class(spark_home: str | None = None) -> str:
    return require_spark(spark_home).spark_class


@functools.lru_cache(maxsize=64)
def python_version_of(python: str) -> tuple[int, int]:
    """The major.minor of an interpreter on this host (run once per path), or ToolMissingError."""
    if python == sys.executable:
        return sys.version_info[0], sys.version_info[1]
    executable = shutil.which(python)
    if executable is None:
        raise ToolMissingError(f"job.python: {python} is not an executable on this host")
    try:
        printed = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolMissingError(f"job.python: {python} does not run: {exc}") from exc
    major, _, minor = printed.partition(".")
    return int(major), int(minor)


def python_executable() -> str:
    """This interpreter: the orchestrator's, and by default the local driver's."""
    return sys.executable
