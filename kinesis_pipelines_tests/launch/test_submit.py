"""Golden tests of the exact spark-submit argv, environment and driver files, per master."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kinesis_pipelines.app import control
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.launch.submit import APP_DIR, build_submit_request, render_command
from kinesis_pipelines.operations.deploy import receiver_plan
from kinesis_pipelines.tools import spark_submit
from kinesis_pipelines_tests.e2e.helpers import make_spec

EMULATED = AwsConnection(
    region="us-east-1",
    endpoints={
        "kinesis": "http://127.0.0.1:4567",
        "dynamodb": "https://127.0.0.1:4568",
        "cloudwatch": "https://127.0.0.1:4569",
    },
    ca_bundle="/ca.pem",
    java_truststore="/trust.p12",
    embedded=True,
)
REAL = AwsConnection(region="eu-west-1")


def normalized(values: list[str], control_dir: str) -> list[str]:
    """Machine-specific paths replaced by names, so the golden lists hold on any machine."""
    swaps = {
        control_dir: "<control>",
        spark_submit(): "<spark-submit>",
        sys.executable: "<python>",
        str(APP_DIR): "<app>",
    }
    out = []
    for value in values:
        for old, new in swaps.items():
            value = value.replace(old, new)
        out.append(value)
    return out


def test_local_master_against_the_emulators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    spec = make_spec("golden", shards=2, executor_cores=3)
    plan = receiver_plan(spec, open_shards=2)
    request = build_submit_request(spec, plan, EMULATED, "/jars/asl.jar", 4041, tmp_path)
    assert normalized(request.argv, request.control_dir) == [
        "<spark-submit>",
        "--master", "local[3]",
        "--name", "kinesis-pipelines-golden",
        "--jars", "/jars/asl.jar",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.driver.extraJavaOptions="
        "-Dcom.amazonaws.regions.RegionUtils.fileOverride=<control>/region-override.xml "
        "-Djavax.net.ssl.trustStore=/trust.p12 -Djavax.net.ssl.trustStorePassword=changeit "
        "-Djavax.net.ssl.trustStoreType=PKCS12",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.executor.extraJavaOptions="
        "-Dcom.amazonaws.regions.RegionUtils.fileOverride=<control>/region-override.xml "
        "-Djavax.net.ssl.trustStore=/trust.p12 -Djavax.net.ssl.trustStorePassword=changeit "
        "-Djavax.net.ssl.trustStoreType=PKCS12",
        "--conf", "spark.executorEnv.AWS_CBOR_DISABLE=true",
        "--conf", "spark.pyspark.driver.python=<python>",
        "--conf", "spark.pyspark.python=<python>",
        "--conf", "spark.streaming.receiver.writeAheadLog.enable=true",
        "--conf", "spark.streaming.stopGracefullyOnShutdown=false",
        "--conf", "spark.ui.port=4041",
        "--conf", "spark.ui.showConsoleProgress=false",
        "<app>/receiver_app.py", "--job-file", "<control>/job.json",
    ]  # fmt: skip
    assert request.env == {
        "AWS_CBOR_DISABLE": "true",
        "AWS_REGION": "us-east-1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    assert Path(request.control_dir) == tmp_path / request.generation
    assert set(request.files) == {control.JOB_FILE, control.REGION_OVERRIDE_FILE}
    job = json.loads(request.files[control.JOB_FILE])
    assert job["receivers"] == 2 and job["kinesis_endpoint"] == "http://127.0.0.1:4567"
    assert job["connection"]["endpoints"]["dynamodb"] == "https://127.0.0.1:4568"
    assert job["control_dir"] == request.control_dir
    assert "<Hostname>127.0.0.1:4568</Hostname>" in request.files[control.REGION_OVERRIDE_FILE]
    # the rendered line shows the environment but never a secret's value
    line = render_command(request)
    assert "AWS_ACCESS_KEY_ID=local" in line and "AWS_SECRET_ACCESS_KEY" not in line


def test_standalone_master_on_real_aws(tmp_path: Path) -> None:
    spec = make_spec("golden", shards=4, executor_cores=6, master="spark://10.0.0.5:7077")
    plan = receiver_plan(spec, open_shards=4)
    request = build_submit_request(spec, plan, REAL, "/jars/asl.jar", 4041, tmp_path)
    argv = normalized(request.argv, request.control_dir)
    assert argv[:9] == [
        "<spark-submit>",
        "--master", "spark://10.0.0.5:7077",
        "--name", "kinesis-pipelines-golden",
        "--jars", "/jars/asl.jar",
        "--total-executor-cores", str(plan.cores),
    ]  # fmt: skip
    confs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--conf"]
    # no emulator settings on real AWS: no region override, no trust store, no loopback driver
    assert not [c for c in confs if "extraJavaOptions" in c or c.startswith("spark.driver.host")]
    assert request.files.keys() == {control.JOB_FILE}
    assert "AWS_ACCESS_KEY_ID" not in request.env
    job = json.loads(request.files[control.JOB_FILE])
    assert job["kinesis_endpoint"] == "https://kinesis.eu-west-1.amazonaws.com"
    assert job["receivers"] == 4


def test_generation_changes_with_the_job_and_not_with_the_port(tmp_path: Path) -> None:
    spec = make_spec("golden", shards=2)
    plan = receiver_plan(spec, 2)
    first = build_submit_request(spec, plan, REAL, "/a.jar", 4041, tmp_path)
    other_port = build_submit_request(spec, plan, REAL, "/a.jar", 4999, tmp_path)
    changed = make_spec("golden", shards=2, batch_interval_seconds=1)
    second = build_submit_request(changed, receiver_plan(changed, 2), REAL, "/a.jar", 4041, tmp_path)
    assert first.generation == other_port.generation != second.generation
