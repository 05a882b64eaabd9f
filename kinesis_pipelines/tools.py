"""Finding the external programs the package drives, with errors that say how to install them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from kinesis_pipelines.errors import ToolMissingError

INSTALL_HINTS = {
    "java": "install a Java 17 JDK (Debian: apt-get install openjdk-17-jdk-headless) or set JAVA_HOME",
    "keytool": "install a Java 17 JDK (keytool ships with it) or set JAVA_HOME",
    "mvn": "install Maven 3.8+ (Debian: apt-get install maven)",
    "node": "install Node.js 18+ (Debian: apt-get install nodejs npm)",
    "npm": "install npm (Debian: apt-get install npm)",
}


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


def spark_submit() -> str:
    """The spark-submit that ships with the installed pyspark."""
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    if not path.exists():
        raise ToolMissingError(f"pyspark is installed without bin/spark-submit ({path})")
    return str(path)


def spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def python_executable() -> str:
    """The interpreter that runs the Spark driver and its Python workers: this one."""
    return sys.executable
