"""A feature whose extra is missing says which extra to install, as a typed error."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli

from kinesis_pipelines.errors import ExtraMissingError, ToolMissingError
from kinesis_pipelines.extras import EXTRAS, require_extra

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_a_missing_module_names_the_extra_and_the_command() -> None:
    with pytest.raises(ExtraMissingError) as raised:
        require_extra("local", "starting the embedded local AWS", "json", "kp_no_such_module")
    message = str(raised.value)
    # only what is missing is named, with its extra and the command that installs it
    assert message.startswith("starting the embedded local AWS needs kp_no_such_module, from the [local]")
    assert message.endswith("pip install 'kinesis-pipelines[local]'")
    assert isinstance(raised.value, ToolMissingError)  # caught wherever a missing program is


def test_installed_modules_pass() -> None:
    require_extra("iam", "linting IAM policies", "json", "pydantic")


def test_the_extras_named_are_pyprojects() -> None:
    declared = tomli.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS) == set(declared) - {"dev"}
    with pytest.raises(ValueError, match="the extras are local, iam, deploy, spark"):
        require_extra("emulators", "anything", "json")
