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
from kinesis_pipelines.spec.runtime import runtime_with
from kinesis_pipelines.tools import SparkInstallation
from kinesis_pipelines_tests.e2e.helpers import make_spec
from kinesis_pipelines_tests.support.golden import assert_golden

GOLDEN = Path(__file__).with_name("golden")

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
SPARK = SparkInstallation(Path("/opt/spark"), "3.3.0", "2.12", "a test")


def normalized(values: list[str], control_dir: str) -> list[str]:
    """Machine-specific paths replaced by names, so the golden lists hold on any machine."""
    swaps = {
        control_dir: "<control>",
        SPARK.submit: "<spark-submit>",
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
    request = build_submit_request(
        spec,
        plan,
        EMULATED,
        "/jars/asl.jar",
        4041,
        str(tmp_path),
        tmp_path,
        runtime=runtime_with(spec, SPARK),
    )
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
        "--conf", "spark.scheduler.mode=FAIR",
        "--conf", "spark.streaming.blockInterval=1000ms",
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
    # the write-ahead log is the application's to set, beside its checkpoint
    assert job["write_ahead_log"] is True
    assert not [arg for arg in request.argv if "writeAheadLog" in arg]
    # the rendered line runs as printed: the emulators' fixed test keys are written out...
    line = render_command(request)
    assert "AWS_ACCESS_KEY_ID=local" in line and "AWS_SECRET_ACCESS_KEY=local" in line
    # ...and any other credential is a reference to the shell's variable, never its value
    real = request.model_copy(update={"env": {**request.env, "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"}})
    assert 'AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"' in render_command(real)
    assert "wJalrXUtnFEMI" not in render_command(real)


def test_standalone_master_on_real_aws(tmp_path: Path) -> None:
    spec = make_spec(
        "golden", shards=4, executor_cores=6, master="spark://10.0.0.5:7077",
        checkpoint_dir="hdfs://nn:8020/checkpoints", sink={"path": "hdfs://nn:8020/out"},
    )  # fmt: skip
    plan = receiver_plan(spec, open_shards=4)
    request = build_submit_request(
        spec, plan, REAL, "/jars/asl.jar", 4041, str(tmp_path), tmp_path, runtime=runtime_with(spec, SPARK)
    )
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
    # emulator-only settings stay with the emulators: real Kinesis speaks CBOR
    assert "AWS_CBOR_DISABLE" not in request.env and not [c for c in confs if "AWS_CBOR_DISABLE" in c]
    job = json.loads(request.files[control.JOB_FILE])
    assert job["kinesis_endpoint"] == "https://kinesis.eu-west-1.amazonaws.com"
    assert job["receivers"] == 4


def test_generation_changes_with_the_job_and_not_with_the_port(tmp_path: Path) -> None:
    spec = make_spec("golden", shards=2)
    plan = receiver_plan(spec, 2)
    first = build_submit_request(
        spec, plan, REAL, "/a.jar", 4041, str(tmp_path), tmp_path, runtime=runtime_with(spec, SPARK)
    )
    other_port = build_submit_request(
        spec, plan, REAL, "/a.jar", 4999, str(tmp_path), tmp_path, runtime=runtime_with(spec, SPARK)
    )
    changed = make_spec("golden", shards=2, batch_interval_seconds=1)
    second = build_submit_request(
        changed,
        receiver_plan(changed, 2),
        REAL,
        "/a.jar",
        4041,
        str(tmp_path),
        tmp_path,
        runtime=runtime_with(changed, SPARK),
    )
    assert first.generation == other_port.generation != second.generation


def test_yarn_cluster_mode_ships_code_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver runs in YARN's ApplicationMaster: the job file and the region override go with
    --files (read from the container's working directory), the code with --py-files, the
    emulators' fixed credentials (never real ones) and the node Python through YARN's env."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    spec = make_spec(
        "golden", shards=2, executor_cores=3, master="yarn", python="/opt/py/bin/python3",
        checkpoint_dir="hdfs://nn:8020/kp/checkpoints", sink={"path": "hdfs://nn:8020/kp/out"},
    )  # fmt: skip
    plan = receiver_plan(spec, open_shards=2)
    control_root = "hdfs://nn:8020/kp/checkpoints/golden/control"
    request = build_submit_request(
        spec, plan, EMULATED, "/jars/asl.jar", 4041, control_root, tmp_path, runtime=runtime_with(spec, SPARK)
    )
    files_dir = str(tmp_path / request.generation)
    argv = normalized(request.argv, files_dir)
    assert argv[:9] == ["<spark-submit>", "--master", "yarn", "--name", "kinesis-pipelines-golden",
                        "--jars", "/jars/asl.jar", "--deploy-mode", "cluster"]  # fmt: skip
    assert argv[9:13] == [
        "--files", "<control>/job.json,<control>/region-override.xml",
        "--py-files", "<control>/kinesis-pipelines-code.zip",
    ]  # fmt: skip
    assert argv[-3:] == ["<app>/receiver_app.py", "--job-file", "job.json"]
    confs = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "--conf")
    assert confs["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] == "/opt/py/bin/python3"
    assert confs["spark.executorEnv.PYSPARK_PYTHON"] == "/opt/py/bin/python3"
    assert confs["spark.yarn.appMasterEnv.AWS_ACCESS_KEY_ID"] == "local"  # the emulators' fake
    assert confs["spark.yarn.maxAppAttempts"] == "2"
    assert confs["spark.yarn.am.attemptFailuresValidityInterval"] == "3600s"
    assert confs["spark.yarn.submit.waitAppCompletion"] == "false"
    assert confs["spark.dynamicAllocation.enabled"] == "false"
    assert (confs["spark.executor.instances"], confs["spark.executor.cores"]) == ("2", "2")
    assert "regions.RegionUtils.fileOverride=region-override.xml " in confs["spark.driver.extraJavaOptions"]
    assert "spark.driver.host" not in confs and "SPARK_LOCAL_IP" not in request.env
    job = json.loads(request.files[control.JOB_FILE])
    assert job["checkpoint_dir"] == f"hdfs://nn:8020/kp/checkpoints/golden/{request.generation}"
    assert job["ledger_dir"] == "hdfs://nn:8020/kp/checkpoints/golden/delivery-ledger"
    assert job["control_dir"] == f"{control_root}/{request.generation}"
    assert job["sink_path"] == "hdfs://nn:8020/kp/out"
    assert request.code_archive == f"{files_dir}/kinesis-pipelines-code.zip"


def test_yarn_on_real_aws_passes_no_credentials(tmp_path: Path) -> None:
    """On real AWS the nodes' own role (EMR's instance profile) or the spec's role is used."""
    spec = make_spec(
        "golden", shards=1, master="yarn", checkpoint_dir="hdfs://nn/c", sink={"path": "s3a://b/o"}
    )
    plan = receiver_plan(spec, open_shards=1)
    request = build_submit_request(
        spec,
        plan,
        REAL,
        "/a.jar",
        4041,
        "hdfs://nn/c/golden/control",
        tmp_path,
        runtime=runtime_with(spec, SPARK),
    )
    assert not [arg for arg in request.argv if "AWS_ACCESS_KEY_ID" in arg or "SECRET" in arg]
    assert "--conf" in request.argv and "spark.yarn.appMasterEnv.PYSPARK_PYTHON=python3" in request.argv


def test_code_archive_holds_the_package_and_the_processor(tmp_path: Path) -> None:
    import zipfile

    from kinesis_pipelines.launch.submit import write_code_archive

    archive = write_code_archive("kinesis_pipelines_tests.e2e.helpers:make_spec", tmp_path / "code.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert "kinesis_pipelines/app/receiver_app.py" in names
    assert "kinesis_pipelines_tests/e2e/helpers.py" in names
    assert not [name for name in names if "__pycache__" in name or not name.endswith(".py")]


def test_standalone_driver_binds_the_address_workers_reach(tmp_path: Path) -> None:
    spec = make_spec(
        "golden", shards=1, master="spark://10.0.0.5:7077", driver_host="10.0.0.9",
        checkpoint_dir="file:///shared/c", sink={"path": "file:///shared/o"},
    )  # fmt: skip
    request = build_submit_request(
        spec,
        receiver_plan(spec, 1),
        REAL,
        "/a.jar",
        4041,
        str(tmp_path),
        tmp_path,
        runtime=runtime_with(spec, SPARK),
    )
    assert (
        "spark.driver.host=10.0.0.9" in request.argv and "spark.driver.bindAddress=10.0.0.9" in request.argv
    )
    assert "SPARK_LOCAL_IP" not in request.env


def test_aws_endpoints_come_from_botocore_and_are_partition_aware() -> None:
    from kinesis_pipelines.launch.submit import region_override_xml

    china = AwsConnection(region="cn-north-1")
    assert china.kinesis_url() == "https://kinesis.cn-north-1.amazonaws.com.cn"
    only_dynamodb_emulated = AwsConnection(
        region="cn-north-1", endpoints={"dynamodb": "https://127.0.0.1:4568"}
    )
    override = region_override_xml(only_dynamodb_emulated)
    assert override is not None
    assert "<Hostname>127.0.0.1:4568</Hostname>" in override
    assert "<Hostname>kinesis.cn-north-1.amazonaws.com.cn</Hostname>" in override
    assert "<Hostname>monitoring.cn-north-1.amazonaws.com.cn</Hostname>" in override
    assert not only_dynamodb_emulated.kinesis_emulated


@pytest.mark.parametrize(
    ("spark_version", "scala"), [("3.3.0", "2.12"), ("3.5.4", "2.12"), ("4.0.1", "2.13"), ("4.2.0", "2.13")]
)
def test_argv_and_environment_per_spark_line(
    spark_version: str, scala: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connector profile decides how the emulators are reached. KCL 1 (up to 4.1): a region
    override file (HTTPS, with the trust store) and CBOR off. KCL 2 (4.2): AWS_ENDPOINT_URL_* in the
    driver's and executors' environment, and no override file."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    spark = SparkInstallation(Path("/opt/spark"), spark_version, scala, "a test")
    spec = make_spec("golden", shards=2, executor_cores=3)
    request = build_submit_request(
        spec,
        receiver_plan(spec, 2),
        EMULATED,
        "/jars/asl.jar",
        4041,
        str(tmp_path),
        tmp_path,
        runtime=runtime_with(spec, spark),
    )
    shown = [*normalized(request.argv, request.control_dir), ""]
    shown += [f"{key}={value}" for key, value in sorted(request.env.items())]
    shown = [line.replace(sys.executable, "<python>") for line in shown]
    assert_golden("\n".join(shown) + "\n", GOLDEN / f"submit-{spark_version}.txt")
    kcl2 = spark_version.startswith("4.2")
    assert (control.REGION_OVERRIDE_FILE in request.files) is not kcl2
    assert ("AWS_ENDPOINT_URL_DYNAMODB" in request.env) is kcl2
    assert (
        f"spark.executorEnv.AWS_ENDPOINT_URL_DYNAMODB={EMULATED.endpoint('dynamodb')}" in request.argv
    ) is kcl2


def test_a_different_driver_python_gets_the_code_shipped(tmp_path: Path) -> None:
    """The orchestrator on one Python, the driver on another: the driver imports this package from
    the shipped zip, and both Spark's driver and worker Pythons are the pipeline's."""
    spec = make_spec("golden", shards=1, python="/opt/py310/bin/python3")
    request = build_submit_request(
        spec,
        receiver_plan(spec, 1),
        REAL,
        "/a.jar",
        4041,
        str(tmp_path),
        tmp_path,
        runtime=runtime_with(spec, SPARK),
    )
    assert request.env["PYSPARK_DRIVER_PYTHON"] == request.env["PYSPARK_PYTHON"] == "/opt/py310/bin/python3"
    assert "spark.pyspark.driver.python=/opt/py310/bin/python3" in request.argv
    assert request.argv[request.argv.index("--py-files") + 1] == request.code_archive
    plain = make_spec("golden", shards=1)
    same = build_submit_request(
        plain, receiver_plan(spec, 1), REAL, "/a.jar", 4041, str(tmp_path), tmp_path,
        runtime=runtime_with(plain, SPARK),
    )  # fmt: skip
    assert "--py-files" not in same.argv and same.code_archive is None
