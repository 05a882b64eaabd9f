"""The core alone, installed from the lock into an empty environment (a Dagster host that adds the
package and nothing else), validates, plans and writes the IAM policies of a pipeline on real AWS,
loads it as a Dagster code location, and holds none of the extras: no emulator, no linter, no
webserver. A feature that needs an extra says which one to install.

Needs the package index (pip's cache makes a rerun take about a minute): marked `install`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kinesis_pipelines.tools import find_spark
from kinesis_pipelines_tests.support.dg_project import make_project, print_asset_keys

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
# Packages of the extras ([local], [iam], [deploy], [spark]) and what only they bring in. The core
# legitimately pulls neither cryptography nor setuptools' pkg_resources (uv pip compile of the core
# against the lock lists them nowhere), so their absence is asserted too.
NOT_IN_THE_CORE = (
    "moto", "flask", "werkzeug", "cryptography", "parliament", "dagster_webserver", "dagster_graphql",
    "dagster_postgres", "dagster_dg_cli", "pyspark",
)  # fmt: skip
IN_THE_CORE = ("dagster", "dagster_aws", "boto3", "pydantic", "yaml", "requests", "fsspec")

Run = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="module")
def core_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python 3.11 venv (the orchestrator's Python, as `./dev` uses) with `pip install -c
    requirements.lock <the package>`, no extras, from a copy of the package's sources (so nothing
    is built in the working tree)."""
    python = shutil.which(os.environ.get("KP_ORCHESTRATOR_PYTHON", "python3.11"))
    assert python, "Python 3.11 is needed for the core-install test (or set KP_ORCHESTRATOR_PYTHON)"
    root = tmp_path_factory.mktemp("core-install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "kinesis_pipelines", source / "kinesis_pipelines", ignore=ignore)
    subprocess.run([python, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    pip = [str(root / "venv" / "bin" / "python"), "-m", "pip"]
    installed = subprocess.run(
        [*pip, "install", "--progress-bar", "off", "-c", str(REPO / "requirements.lock"), str(source)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return root / "venv" / "bin"


@pytest.fixture(scope="module")
def spark_home() -> str:
    spark = find_spark()
    assert spark is not None, "the test environment's pyspark holds the Spark that validate checks"
    return str(spark.home)


@pytest.fixture
def real_aws_spec(tmp_path: Path) -> Path:
    """A pipeline on real AWS: no endpoint is overridden."""
    spec = {
        "type": "kinesis_pipelines.components.KinesisPipeline",
        "attributes": {
            "name": "orders",
            "stream": {"name": "orders-events", "region": "eu-west-1", "shards": 2},
            "app_table": {"application_name": "orders-app"},
            "job": {
                "python": sys.executable,  # Spark 3.3's driver runs Python 3.10 (this one)
                "checkpoint_dir": str(tmp_path / "checkpoints"),
                "executor_cores": 3,
                "processor": "kinesis_pipelines.app.processors:passthrough",
                "sink": {"path": str(tmp_path / "out")},
            },
        },
    }
    path = tmp_path / "orders" / "defs.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def run_core(core_bin: Path, spark_home: str, tmp_path: Path) -> Run:
    """A command of the core environment with no AWS credentials anywhere and the instance
    metadata service off: boto3 refuses before it sends anything, so nothing reaches AWS."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"PYTHONPATH", "VIRTUAL_ENV", "SPARK_HOME"}
    }
    env.update(
        PATH=f"{core_bin}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(core_bin.parent),
        SPARK_HOME=spark_home,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        KINESIS_PIPELINES_HOME=str(tmp_path / "home"),
    )

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(core_bin / argv[0]), *argv[1:]]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    return run


def test_the_core_holds_none_of_the_extras(core_bin: Path) -> None:
    probe = textwrap.dedent(
        f"""
        import importlib.util, json
        import kinesis_pipelines
        print(json.dumps({{
            "package": kinesis_pipelines.__file__,
            "absent": [m for m in {NOT_IN_THE_CORE!r} if importlib.util.find_spec(m) is None],
            "present": [m for m in {IN_THE_CORE!r} if importlib.util.find_spec(m) is not None],
        }}))
        """
    )
    found = subprocess.run(
        [str(core_bin / "python"), "-c", probe], capture_output=True, text=True, cwd=core_bin, timeout=120
    )
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["package"].startswith(str(core_bin.parent)), result["package"]  # the installed copy
    assert result["absent"] == list(NOT_IN_THE_CORE)
    assert result["present"] == list(IN_THE_CORE)


def test_validate_plan_and_iam_for_real_aws(
    run_core: Run, real_aws_spec: Path, spark_home: str, tmp_path: Path
) -> None:
    validated = run_core("kinesis-pipelines", "validate", str(real_aws_spec))
    assert validated.returncode == 0, validated.stderr
    assert "ok: pipeline orders reads orders-events" in validated.stdout

    # plan without credentials: what a deploy would do, from the spec, and why the stream was not
    # looked at
    planned = run_core("kinesis-pipelines", "plan", str(real_aws_spec), "--json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert (plan["stream_exists"], plan["open_shards"], plan["receivers"]) == (None, 2, 2)
    assert any("Unable to locate credentials" in note for note in plan["notes"]), plan["notes"]
    assert f"{spark_home}/bin/spark-submit" in plan["spark_submit"]
    assert "fileOverride" not in plan["spark_submit"] and "AWS_ENDPOINT_URL" not in plan["spark_submit"]

    # iam without the [iam] extra: the policies are written and shown, marked not linted
    out = tmp_path / "iam"
    argv = ["kinesis-pipelines", "iam", str(real_aws_spec), "--account", ACCOUNT]
    policies = run_core(*argv, "--out", str(out), "--json")
    assert policies.returncode == 0, policies.stderr
    [result] = json.loads(policies.stdout)["pipelines"]
    assert (result["linted"], result["findings"]) == (False, [])
    assert result["notes"] == [
        "the policies were not linted: linting IAM policies needs parliament, from the [iam] extra, "
        "which is not installed here: pip install 'kinesis-pipelines[iam]'"
    ]
    assert sorted(path.name for path in out.iterdir()) == [
        "orders.driver.json", "orders.orchestrator.json", "orders.producer.json"
    ]  # fmt: skip
    driver = json.loads((out / "orders.driver.json").read_text())
    assert driver == result["policies"]["driver"]
    assert f"arn:aws:kinesis:eu-west-1:{ACCOUNT}:stream/orders-events" in json.dumps(driver)
    text = run_core(*argv)
    assert text.returncode == 0 and "### IAM for pipeline `orders`" in text.stdout, text.stderr
    assert "pip install 'kinesis-pipelines[iam]'" in text.stderr  # a person is told too


def test_a_feature_of_an_extra_says_which_extra(run_core: Run) -> None:
    started = run_core("kinesis-pipelines", "local-aws", "start")
    assert started.returncode != 0
    assert "Traceback" not in started.stderr, started.stderr
    assert "from the [local] extra" in started.stderr
    assert "pip install 'kinesis-pipelines[local]'" in started.stderr


def test_the_core_loads_the_pipeline_as_a_code_location(
    run_core: Run, real_aws_spec: Path, tmp_path: Path
) -> None:
    root, _package = make_project(tmp_path / "project", {"orders": real_aws_spec})
    loaded = run_core(
        "python", "-c",
        print_asset_keys(root),
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "orders/stream" in loaded.stdout and "orders/streaming_job" in loaded.stdout
