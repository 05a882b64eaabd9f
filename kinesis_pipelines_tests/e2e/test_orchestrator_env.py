"""The real-world split: a Dagster host on one Python without pyspark; Spark, and the driver, on
another.

The orchestrator environment is `.venv-orchestrator` (the machine's own Python 3.11, no pyspark;
`./dev test` creates it from the same lock). From it the tests validate, plan, load the Dagster
definitions, run `dg check defs`, and deploy a pipeline whose SPARK_HOME is the Spark 3.3
installation (the pyspark package of the main environment holds a whole Spark) and whose driver
runs on Python 3.10: every id comes out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kinesis_pipelines.launch.local import LocalProcessLauncher
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import load_spec
from kinesis_pipelines.tools import find_spark
from kinesis_pipelines_tests.e2e.helpers import wait_all_out, wait_for
from kinesis_pipelines_tests.support.dg_project import make_project, print_asset_keys

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ORCHESTRATOR_VENV = Path(os.environ.get("KP_ORCHESTRATOR_VENV", REPO / ".venv-orchestrator"))


@pytest.fixture(scope="module")
def orchestrator_bin() -> Path:
    python = ORCHESTRATOR_VENV / "bin" / "python"
    assert python.exists(), (
        f"no orchestrator environment at {ORCHESTRATOR_VENV}: `./dev test` creates it (Python 3.11, "
        "no pyspark), or set KP_ORCHESTRATOR_VENV"
    )
    return python.parent


@pytest.fixture(scope="module")
def spark_home() -> str:
    spark = find_spark()
    assert spark is not None and spark.version == "3.3.0"
    return str(spark.home)


def run(
    orchestrator_bin: Path, spark_home: str | None, *argv: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A command of the orchestrator environment, with nothing of this (Python 3.10) one."""
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{orchestrator_bin}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(orchestrator_bin.parent)
    env.pop("SPARK_HOME", None)
    if spark_home:
        env["SPARK_HOME"] = spark_home
    command = [str(orchestrator_bin / argv[0]), *argv[1:]]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def pipeline_file(tmp_path: Path, name: str, **job: object) -> Path:
    spec = {
        "type": "kinesis_pipelines.components.KinesisPipeline",
        "attributes": {
            "name": name,
            "stream": {"name": f"s-{name}", "endpoint_url": "embedded", "shards": 2},
            "app_table": {"application_name": f"app-{name}", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {
                "checkpoint_dir": str(tmp_path / "checkpoints"),
                "executor_cores": 3,
                "batch_interval_seconds": 2,
                "kcl_checkpoint_interval_seconds": 1,
                "processor": "kinesis_pipelines.app.processors:passthrough",
                "sink": {"path": str(tmp_path / "out" / name)},
                **job,
            },
        },
    }
    path = tmp_path / name / "defs.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_orchestrator_needs_no_pyspark(orchestrator_bin: Path, spark_home: str, tmp_path: Path) -> None:
    probe = run(
        orchestrator_bin, None, "python", "-c",
        "import importlib.util, sys; print(sys.version_info[0], sys.version_info[1], "
        "importlib.util.find_spec('pyspark') is None)",
    )  # fmt: skip
    assert probe.stdout.split() == ["3", "11", "True"], probe.stderr

    driver_on_310 = pipeline_file(tmp_path, "split", python=sys.executable)
    validated = run(orchestrator_bin, spark_home, "kinesis-pipelines", "validate", str(driver_on_310))
    assert validated.returncode == 0, validated.stderr

    # the driver left on the orchestrator's own Python 3.11: Spark 3.3 cannot run it
    driver_on_311 = pipeline_file(tmp_path, "same_python")
    refused = run(orchestrator_bin, spark_home, "kinesis-pipelines", "validate", str(driver_on_311))
    assert refused.returncode == 2
    assert f"{driver_on_311}:" in refused.stderr
    assert "job.python: this interpreter is Python 3.11, but Spark 3.3 runs Python 3.7-3.10" in refused.stderr

    # no SPARK_HOME and no pyspark: validation says what to set
    no_spark = run(orchestrator_bin, None, "kinesis-pipelines", "validate", str(driver_on_310))
    assert no_spark.returncode == 2 and "no Spark was found" in no_spark.stderr, no_spark.stderr

    planned = run(orchestrator_bin, spark_home, "kinesis-pipelines", "plan", str(driver_on_310), "--json")
    assert planned.returncode == 0, planned.stderr
    line = json.loads(planned.stdout.strip().splitlines()[-1])["spark_submit"]
    assert f"{spark_home}/bin/spark-submit" in line
    assert f"PYSPARK_DRIVER_PYTHON={sys.executable}" in line and "--py-files" in line

    root, package = make_project(tmp_path / "project", {"split": driver_on_310})
    loaded = run(
        orchestrator_bin, spark_home, "python", "-c",
        print_asset_keys(root),
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "kinesis_asl_assembly/spark_3_3_0" in loaded.stdout and "split/stream" in loaded.stdout

    checked = run(orchestrator_bin, spark_home, "dg", "check", "defs", cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert package


def test_deploy_from_python_311_with_the_driver_on_python_310(
    orchestrator_bin: Path, spark_home: str, local_aws, assembly_jar, cleanup_drivers, tmp_path: Path
) -> None:
    path = pipeline_file(tmp_path, "split_deploy", python=sys.executable)
    spec = load_spec(path)
    cleanup_drivers.append(spec)
    deployed = run(orchestrator_bin, spark_home, "kinesis-pipelines", "deploy", str(path), "--json")
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-3000:]
    assert deployed.stdout.count("\n") == 1, deployed.stdout[-2000:]  # the result alone; progress on stderr
    assert json.loads(deployed.stdout)["job"]["action"] == "started"

    backends = backends_for(spec)
    record = backends.store.driver()
    assert record is not None
    info = wait_for(lambda: LocalProcessLauncher().driver_info(record), timeout=120, what="the driver's info")
    assert info.python.startswith("3.10.") and info.spark_version == "3.3.0"

    ids = unique_ids("split", 2_000)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids, timeout=180)
    print(f"orchestrator on 3.11, driver on {info.python}, Spark {info.spark_version}: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally

    # the operator's commands from the same host: status (text and JSON), logs, restart
    shown = run(orchestrator_bin, spark_home, "kinesis-pipelines", "status", str(path), "--json")
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert (status["health"], status["receivers_active"], status["receivers_planned"]) == ("healthy", 2, 2)
    assert status["last_batch"] is not None and len(status["lag_ms_per_shard"]) == 2
    assert (status["restarts_used"], status["driver_python"]) == (0, info.python)
    text = run(orchestrator_bin, spark_home, "kinesis-pipelines", "status", str(path)).stdout
    assert "HEALTHY" in text and "2 of 2 active" in text and "lag shardId-" in text, text
    logs = run(orchestrator_bin, spark_home, "kinesis-pipelines", "logs", str(path), "-n", "20")
    assert logs.returncode == 0 and len(logs.stdout.splitlines()) == 20, logs.stderr
    shown_log = run(orchestrator_bin, spark_home, "kinesis-pipelines", "logs", str(path), "-n", "5", "--json")
    assert shown_log.returncode == 0 and shown_log.stdout.count("\n") == 1, shown_log.stderr
    log_object = json.loads(shown_log.stdout)
    assert len(log_object["lines"]) == 5 and log_object["location"] == record.log_location
    restarted = run(orchestrator_bin, spark_home, "kinesis-pipelines", "restart", str(path), "--json")
    assert restarted.returncode == 0, restarted.stdout[-2000:] + restarted.stderr[-2000:]
    result = json.loads(restarted.stdout)
    assert result["action"] == "restarted" and result["record"]["driver_id"] != record.driver_id
    more = unique_ids("split-after-restart", 500)
    put_all(backends.stream.client, spec.stream.name, more)
    tally = wait_all_out(spec, ids + more, timeout=180)
    assert (tally.lost, tally.duplicates) == (0, 0), tally

    stopped = run(orchestrator_bin, spark_home, "kinesis-pipelines", "stop", str(path), "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["driver"]["state"] == "FINISHED"
    after = run(orchestrator_bin, spark_home, "kinesis-pipelines", "status", str(path))
    assert after.returncode == 4 and "STOPPED" in after.stdout, after.stdout + after.stderr  # on request
