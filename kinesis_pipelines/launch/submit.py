"""Turning a spec, a receiver plan and a connection into the exact spark-submit to run, with the
files its driver reads. Pure apart from reading source files for the code digest: nothing is
started or written here."""

from __future__ import annotations

import hashlib
import importlib.util
import shlex
from pathlib import Path
from xml.sax.saxutils import escape

from kinesis_pipelines import __version__
from kinesis_pipelines.app import control, receiver_app
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.app.delivery import LEDGER_DIR_NAME
from kinesis_pipelines.aws.connection import AwsConnection
from kinesis_pipelines.emulators.tls import TRUSTSTORE_PASSWORD
from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.home import resolve_path
from kinesis_pipelines.launch.base import SubmitRequest
from kinesis_pipelines.planning import ReceiverPlan, checkpoint_generation
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.tools import python_executable, spark_submit

APP_DIR = Path(receiver_app.__file__).parent


def code_digest(processor: str) -> str:
    """What the driver runs: the receiver application, the package version, the processor."""
    digest = hashlib.sha256(__version__.encode())
    for source in sorted(APP_DIR.glob("*.py")):
        digest.update(source.read_bytes())
    module = processor.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise SpecError(f"job.processor: cannot import module {module!r}: {exc}") from exc
    if spec is None:
        raise SpecError(
            f"job.processor: no module named {module!r} is importable by the driver's Python; "
            "install the package that holds it or fix the import path 'module:function'"
        )
    if spec.origin and Path(spec.origin).exists():
        digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()


def region_override_xml(connection: AwsConnection) -> str | None:
    """An AWS SDK v1 region file pointing KCL's DynamoDB and CloudWatch clients at overridden
    endpoints (SDK v1 offers no other way, and always uses HTTPS for it); None when not needed."""
    if not (connection.endpoint("dynamodb") or connection.endpoint("cloudwatch")):
        return None
    region = connection.region

    def host(url: str | None, default: str) -> str:
        return url.split("://", 1)[1] if url else default

    services = {
        "dynamodb": host(connection.endpoint("dynamodb"), f"dynamodb.{region}.amazonaws.com"),
        "monitoring": host(connection.endpoint("cloudwatch"), f"monitoring.{region}.amazonaws.com"),
        "kinesis": host(connection.endpoint("kinesis"), f"kinesis.{region}.amazonaws.com"),
        "sts": f"sts.{region}.amazonaws.com",
    }
    endpoints = "".join(
        f"<Endpoint><ServiceName>{name}</ServiceName><Http>false</Http><Https>true</Https>"
        f"<Hostname>{escape(hostname)}</Hostname></Endpoint>"
        for name, hostname in services.items()
    )
    return f"<XML><Regions><Region><Name>{escape(region)}</Name>{endpoints}</Region></Regions></XML>"


def ledger_dir(spec: PipelineSpec) -> Path:
    """The pipeline's delivery ledger (app/delivery.py), beside its checkpoint generations."""
    return resolve_path(spec.job.checkpoint_dir) / spec.name / LEDGER_DIR_NAME


def driver_config(
    spec: PipelineSpec,
    plan: ReceiverPlan,
    connection: AwsConnection,
    generation: str,
    control_dir: Path,
) -> DriverConfig:
    return DriverConfig(
        pipeline=spec.name,
        application_name=spec.app_table.application_name,
        stream_name=spec.stream.name,
        kinesis_endpoint=connection.kinesis_url(),
        region=connection.region,
        initial_position=spec.job.initial_position.value,
        initial_timestamp_ms=(
            round(spec.job.initial_timestamp.timestamp() * 1000) if spec.job.initial_timestamp else None
        ),
        kcl_checkpoint_interval_seconds=spec.job.kcl_checkpoint_interval_seconds,
        storage_level=spec.job.storage_level.value,
        receivers=plan.receivers,
        batch_interval_seconds=spec.job.batch_interval_seconds,
        dedupe_window_seconds=spec.job.dedupe_window_seconds,
        ledger_dir=str(ledger_dir(spec)),
        checkpoint_dir=str(resolve_path(spec.job.checkpoint_dir) / spec.name / generation),
        generation=generation,
        control_dir=str(control_dir),
        processor=spec.job.processor,
        sink_path=str(resolve_path(spec.job.sink.path)),
        fence_table=spec.supervision.fence_table,
        connection=connection,
    )


def generation_of(spec: PipelineSpec, plan: ReceiverPlan, connection: AwsConnection) -> str:
    """The checkpoint generation: changes with anything pickled into a Spark checkpoint."""
    identity = {
        "spec_job": spec.job.model_dump(mode="json"),
        "stream": spec.stream.name,
        "application": spec.app_table.application_name,
        "receivers": plan.receivers,
        "cores": plan.cores,
        "master": plan.master,
        "conf": _spark_conf(spec, plan),
        "endpoints": [connection.endpoint("kinesis"), connection.endpoint("dynamodb")],
    }
    return checkpoint_generation(identity, code_digest(spec.job.processor))


def build_submit_request(
    spec: PipelineSpec,
    plan: ReceiverPlan,
    connection: AwsConnection,
    assembly_jar: str,
    ui_port: int,
    control_root: Path,
) -> SubmitRequest:
    """The spark-submit argv and env, and the files its driver reads from its control directory
    (`control_root/<generation>`)."""
    override = region_override_xml(connection)
    generation = generation_of(spec, plan, connection)
    control_dir = control_root / generation
    config = driver_config(spec, plan, connection, generation, control_dir)
    python = python_executable()
    java_options = []
    if override is not None:
        java_options.append(
            f"-Dcom.amazonaws.regions.RegionUtils.fileOverride={control_dir / control.REGION_OVERRIDE_FILE}"
        )
    if connection.java_truststore:
        java_options += [
            f"-Djavax.net.ssl.trustStore={connection.java_truststore}",
            f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}",
            "-Djavax.net.ssl.trustStoreType=PKCS12",
        ]
    conf = {
        **_spark_conf(spec, plan),
        "spark.ui.port": str(ui_port),
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.executorEnv.AWS_CBOR_DISABLE": "true",
    }
    if java_options:
        joined = " ".join(java_options)
        conf["spark.driver.extraJavaOptions"] = joined
        conf["spark.executor.extraJavaOptions"] = joined
    argv = [
        spark_submit(),
        "--master", plan.master,
        "--name", f"kinesis-pipelines-{spec.name}",
        "--jars", assembly_jar,
    ]  # fmt: skip
    if plan.master.startswith("spark://"):
        argv += ["--total-executor-cores", str(plan.cores)]
    for key, value in sorted(conf.items()):
        argv += ["--conf", f"{key}={value}"]
    argv += [str(APP_DIR / "receiver_app.py"), "--job-file", str(control_dir / control.JOB_FILE)]
    env = {
        "AWS_CBOR_DISABLE": "true",  # SDK v1 speaks CBOR to Kinesis by default; emulators JSON
        "AWS_REGION": connection.region,
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
        **connection.credential_env(),
    }
    files = {control.JOB_FILE: config.model_dump_json(indent=2)}
    if override is not None:
        files[control.REGION_OVERRIDE_FILE] = override
    return SubmitRequest(
        pipeline=spec.name,
        generation=generation,
        argv=argv,
        env=env,
        control_dir=str(control_dir),
        files=files,
        ui_port=ui_port,
        receivers=plan.receivers,
        cores=plan.cores,
        checkpoint_dir=config.checkpoint_dir,
        max_attempts=spec.supervision.restart.driver_attempts if spec.supervision.enabled else 1,
    )


def _spark_conf(spec: PipelineSpec, plan: ReceiverPlan) -> dict[str, str]:
    conf = {
        "spark.driver.host": "127.0.0.1" if plan.master.startswith("local") else "",
        "spark.driver.bindAddress": "127.0.0.1" if plan.master.startswith("local") else "",
        "spark.streaming.receiver.writeAheadLog.enable": str(spec.job.write_ahead_log).lower(),
        "spark.streaming.stopGracefullyOnShutdown": "false",
        "spark.ui.showConsoleProgress": "false",
        **spec.job.spark_conf,
    }
    return {key: value for key, value in conf.items() if value != ""}


def render_command(request: SubmitRequest) -> str:
    """The spark-submit line as a person would type it (environment first)."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(request.env.items()) if "SECRET" not in k)
    return f"{env} {shlex.join(request.argv)}"
