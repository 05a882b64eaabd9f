"""Where the package keeps its local state: built jars, the embedded AWS, driver records."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "KINESIS_PIPELINES_HOME"


def state_home() -> Path:
    """$KINESIS_PIPELINES_HOME, else .kinesis-pipelines under the working directory."""
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / ".kinesis-pipelines").absolute()


def cache_home() -> Path:
    """Shared caches (assembly jars, npm emulators): $KINESIS_PIPELINES_CACHE or ~/.cache."""
    configured = os.environ.get("KINESIS_PIPELINES_CACHE")
    if configured:
        return Path(configured).absolute()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kinesis-pipelines"


def resolve_path(path: str) -> Path:
    """Relative spec paths live under the package's state home."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else state_home() / candidate


def pipeline_dir(name: str) -> Path:
    """Where one pipeline's state lives."""
    return state_home() / "pipelines" / name


def job_path(path: str) -> str:
    """A spec path as the job sees it: file system URIs (hdfs://, s3a://, file://) unchanged;
    plain paths made absolute, relative ones under the state home."""
    if "://" in path:
        return path.rstrip("/")
    return str(resolve_path(path))
