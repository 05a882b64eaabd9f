"""The optional parts of the install (pyproject.toml's extras) and the one check that names the
extra to install when a feature's packages are missing.

The core installs what a Dagster host needs against real AWS; a feature that needs more imports
its packages lazily, after `require_extra`, so a host without the extra never imports them and a
user who asks for the feature is told what to install instead of meeting an ImportError."""

from __future__ import annotations

import importlib.util

from kinesis_pipelines.errors import ExtraMissingError

EXTRAS: dict[str, str] = {
    "local": "the embedded local AWS (moto's server, a local certificate authority)",
    "iam": "linting IAM policies (parliament)",
    "deploy": "a production Dagster host (webserver, PostgreSQL storage, the dg command line)",
    "spark": "a whole Spark in the Python environment (pyspark)",
}


def install_hint(extra: str) -> str:
    """The command that installs `extra` beside what is installed."""
    return f"pip install 'kinesis-pipelines[{extra}]'"


def require_extra(extra: str, purpose: str, *modules: str) -> None:
    """ExtraMissingError unless every module of `modules` (top-level packages of `extra`) can be
    imported. `purpose` says what needed them, as the start of a sentence."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise ExtraMissingError(
            f"{purpose} needs {' and '.join(missing)}, from the [{extra}] extra, which is not "
            f"installed here: {install_hint(extra)}"
        )
