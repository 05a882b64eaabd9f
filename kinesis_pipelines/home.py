"""Where the package keeps its local state: built jars, the embedded AWS, driver records."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "KINESIS_PIPELINES_HOME"


def state_home() -> Path:
    """$KINESIS_PIPELINES_HOME, else the user's data directory ($XDG_DATA_HOME or
    ~/.local/share, then kinesis-pipelines): one place whatever folder the CLI or `dagster dev`
    starts from, so both see the same pipelines."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser().absolute()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return (Path(data) / "kinesis-pipelines").absolute()


def describe_state_home() -> str:
    """One line saying where state lives and how to move it, for the start of a command."""
    source = HOME_ENV if os.environ.get(HOME_ENV) else f"the default; set {HOME_ENV} to move it"
    return f"state: {state_home()} ({source})"


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
