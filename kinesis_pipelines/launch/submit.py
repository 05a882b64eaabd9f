"""Turning a spec, a receiver plan and a connection into the exact spark-submit to run, with the
files its driver reads. Pure apart from reading source files for the code digest: nothing is
started or written here."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import shlex
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from kinesis_pipelines import __version__
from kinesis_pipelines.app import control, receiver_app
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.app.dead_letters import DEFAULT_DIR_NAME as DEAD_LETTERS_DIR_NAME
from kinesis_pipelines.app.delivery import LEDGER_DIR_NAME
from kinesis_pipelines.app.storage import join
from kinesis_pipelines.aws.connection import EMULATOR_CREDENTIALS, AwsConnection, aws_endpoint
from kinesis_pipelines.emulators.tls import TRUSTSTORE_PASSWORD
from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.base import SubmitRequest
from kinesis_pipelines.planning import ReceiverPlan, block_interval_ms, checkpoint_generation
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import Runtime
from kinesis_pipelines.tools import python_executable
from kinesis_pipelines.versions import ConnectorProfile

APP_DIR = Path(receiver_app.__file__).parent
PACKAGE_DIR = APP_DIR.parent
CODE_ARCHIVE = "kinesis-pipelines-code.zip"  # shipped to a YARN cluster with --py-files
CREDENTIAL_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
YARN_EXECUTOR_CORES = 2  # per executor; the plan's cores spread over as many executors as needed


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

    def host(url: str | None, service: str) -> str:
        return (url or aws_endpoint(service, region)).split("://", 1)[1].rstrip("/")

    services = {
        "dynamodb": host(connection.endpoint("dynamodb"), "dynamodb"),
        "monitoring": host(connection.endpoint("cloudwatch"), "cloudwatch"),
        "kinesis": host(connection.endpoint("kinesis"), "kinesis"),
        "sts": connection.sts_url().split("://", 1)[1].rstrip("/"),
    }
    endpoints = "".join(
        f"<Endpoint><ServiceName>{name}</ServiceName><Http>false</Http><Https>true</Https>"
        f"<Hostname>{escape(hostname)}</Hostname></Endpoint>"
        for name, hostname in services.items()
    )
    return f"<XML><Regions><Region><Name>{escape(region)}</Name>{endpoints}</Region></Regions></XML>"


def ledger_dir(spec: PipelineSpec) -> str:
    """The pipeline's delivery ledger (app/delivery.py), beside its checkpoint generations."""
    return join(job_path(spec.job.checkpoint_dir), spec.name, LEDGER_DIR_NAME)


def dead_letter_path(spec: PipelineSpec) -> str:
    """Where the job puts what it could not process (app/dead_letters.py)."""
    if spec.job.bad_records.path is not None:
        return job_path(spec.job.bad_records.path)
    return join(job_path(spec.job.sink.path), DEAD_LETTERS_DIR_NAME)


def on_cluster(spec: PipelineSpec) -> bool:
    """The driver runs on the cluster (YARN cluster mode), not on this host."""
    return spec.job.master == "yarn"


def ships_code(spec: PipelineSpec, driver_python: str) -> bool:
    """The driver imports this package from a shipped zip, not from its own environment: on a
    cluster, and wherever the driver's Python is not this interpreter."""
    return on_cluster(spec) or driver_python != python_executable()


def write_code_archive(processor: str, target: Path) -> Path:
    """The package and the processor's top-level package (or module) as one zip for
    `--py-files`: what the driver and executors import on a cluster is exactly what was planned
    (the checkpoint generation's code digest), whatever is installed on the nodes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    top = processor.partition(":")[0].split(".", 1)[0]
    roots = [PACKAGE_DIR]
    found = importlib.util.find_spec(top)
    if top != PACKAGE_DIR.name and found is not None and found.origin:
        origin = Path(found.origin)
        roots.append(origin.parent if origin.name == "__init__.py" else origin)
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for root in roots:
            sources = sorted(root.rglob("*.py")) if root.is_dir() else [root]
            for source in sources:
                if "__pycache__" not in source.parts:
                    archive.write(source, source.relative_to(root.parent))
    partial.replace(target)
    return target


def write_submit_files(request: SubmitRequest) -> Path:
    """The files a submit names, on this host: the job file (and region override), and the code
    zip when the request ships code."""
    files_dir = Path(request.files_dir)
    files_dir.mkdir(parents=True, exist_ok=True)
    for name, content in request.files.items():
        (files_dir / name).write_text(content)
    if request.code_archive:
        write_code_archive(request.processor, Path(request.code_archive))
    return files_dir


def driver_config(
    spec: PipelineSpec,
    plan: ReceiverPlan,
    connection: AwsConnection,
    generation: str,
    control_dir: str,
    discard_unusable_checkpoint: bool = False,
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
        ledger_dir=ledger_dir(spec),
        checkpoint_dir=join(job_path(spec.job.checkpoint_dir), spec.name, generation),
        generation=generation,
        control_dir=control_dir,
        processor=spec.job.processor,
        sink_path=job_path(spec.job.sink.path),
        dead_letter_path=dead_letter_path(spec),
        bad_records_policy=spec.job.bad_records.policy,
        batch_attempts=spec.job.bad_records.batch_attempts,
        drain_timeout_seconds=spec.job.drain_timeout_seconds,
        discard_unusable_checkpoint=discard_unusable_checkpoint,
        write_ahead_log=spec.job.write_ahead_log,
        fence_table=spec.supervision.fence_table,
        connection=connection,
    )


def generation_of(
    spec: PipelineSpec, plan: ReceiverPlan, connection: AwsConnection, spark_version: str
) -> str:
    """The checkpoint generation: changes with anything pickled into a Spark checkpoint."""
    identity = {
        "spec_job": spec.job.model_dump(mode="json"),
        "spark": spark_version,
        "stream": spec.stream.name,
        "application": spec.app_table.application_name,
        "receivers": plan.receivers,
        "cores": plan.cores,
        "master": plan.master,
        "conf": _spark_conf(spec, plan),
        "endpoints": [connection.endpoint("kinesis"), connection.endpoint("dynamodb")],
    }
    return checkpoint_generation(identity, code_digest(spec.job.processor))


def superseding(request: SubmitRequest, before_ms: int) -> SubmitRequest:
    """The request, its driver told that its generation's checkpoint, if any, predates `before_ms`
    and the generations that ran since (a roll back to a generation the pipeline left): the
    driver sets it aside instead of recovering it (`receiver_app.set_aside_superseded`)."""
    config = DriverConfig.model_validate_json(request.files[control.JOB_FILE])
    job = config.model_copy(update={"superseded_before_ms": before_ms}).model_dump_json(indent=2)
    return request.model_copy(update={"files": {**request.files, control.JOB_FILE: job}})


def build_submit_request(
    spec: PipelineSpec,
    plan: ReceiverPlan,
    connection: AwsConnection,
    assembly_jar: str,
    ui_port: int,
    control_root: str,
    files_root: Path,
    runtime: Runtime,
    discard_unusable_checkpoint: bool = False,
) -> SubmitRequest:
    """The spark-submit argv and env, and the files its driver reads.

    The driver's control directory is `control_root/<generation>` (on this host, or on the
    job's file system for a driver on the cluster); the files it reads are placed in
    `files_root/<generation>` on this host, and shipped with `--files` to a cluster. `runtime`
    holds the Spark that submits (its line picks the connector profile, KCL 1 or KCL 2) and the
    driver's Python."""
    spark = runtime.spark
    profile = runtime.line.profile
    override = region_override_xml(connection) if profile is ConnectorProfile.KCL1 else None
    generation = generation_of(spec, plan, connection, runtime.spark_version)
    control_dir = join(control_root, generation)
    files_dir = files_root / generation
    config = driver_config(spec, plan, connection, generation, control_dir, discard_unusable_checkpoint)
    cluster = on_cluster(spec)
    node_python = runtime.python
    java_options = []
    if override is not None:
        # on a cluster, --files puts the override in every container's working directory
        override_path = str(files_dir / control.REGION_OVERRIDE_FILE)
        if cluster:
            override_path = control.REGION_OVERRIDE_FILE
        java_options.append(f"-Dcom.amazonaws.regions.RegionUtils.fileOverride={override_path}")
    if connection.kinesis_emulated and profile is ConnectorProfile.KCL2:
        java_options.append("-Daws.cborEnabled=false")  # SDK v2; v1 reads AWS_CBOR_DISABLE
    if connection.java_truststore:  # the emulators' HTTPS endpoints, for either SDK
        java_options += [
            f"-Djavax.net.ssl.trustStore={connection.java_truststore}",
            f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}",
            "-Djavax.net.ssl.trustStoreType=PKCS12",
        ]
    # What the driver and the executors find in their environment on every node
    sdk_env = sdk_environment(connection, profile)
    node_env = {"AWS_REGION": connection.region, "PYTHONUNBUFFERED": "1", **sdk_env}
    if cluster and connection.embedded:
        node_env.update(EMULATOR_CREDENTIALS)  # the emulators' fixed fakes; never real keys
    conf = {
        **_spark_conf(spec, plan),
        "spark.ui.port": "0" if cluster else str(ui_port),
        "spark.pyspark.python": node_python,
    }
    if cluster:
        conf.update({f"spark.yarn.appMasterEnv.{key}": value for key, value in node_env.items()})
        conf.update({f"spark.executorEnv.{key}": value for key, value in node_env.items()})
        conf["spark.yarn.appMasterEnv.PYSPARK_PYTHON"] = node_python
        conf["spark.executorEnv.PYSPARK_PYTHON"] = node_python
    else:
        conf.update({f"spark.executorEnv.{key}": value for key, value in sdk_env.items()})
        conf["spark.pyspark.driver.python"] = node_python
    if java_options:
        joined = " ".join(java_options)
        conf["spark.driver.extraJavaOptions"] = joined
        conf["spark.executor.extraJavaOptions"] = joined
    argv = [
        spark.submit,
        "--master", plan.master,
        "--name", f"kinesis-pipelines-{spec.name}",
        "--jars", assembly_jar,
    ]  # fmt: skip
    if plan.master.startswith("spark://"):
        argv += ["--total-executor-cores", str(plan.cores)]
    files = {control.JOB_FILE: config.model_dump_json(indent=2)}
    if override is not None:
        files[control.REGION_OVERRIDE_FILE] = override
    if cluster:
        argv += ["--deploy-mode", "cluster"]
        argv += ["--files", ",".join(str(files_dir / name) for name in sorted(files))]
    code_archive = str(files_dir / CODE_ARCHIVE) if ships_code(spec, node_python) else None
    if code_archive:
        argv += ["--py-files", code_archive]
    for key, value in sorted({**conf, **spec.job.spark_conf}.items()):
        argv += ["--conf", f"{key}={value}"]
    job_file = control.JOB_FILE if cluster else str(files_dir / control.JOB_FILE)
    argv += [str(APP_DIR / "receiver_app.py"), "--job-file", job_file]
    env = {"PYTHONUNBUFFERED": "1", **connection.credential_env()}
    if cluster:
        env["AWS_REGION"] = connection.region
    else:
        env.update(node_env)
        env.update({"PYSPARK_PYTHON": node_python, "PYSPARK_DRIVER_PYTHON": node_python})
        if plan.master.startswith("local"):
            env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return SubmitRequest(
        pipeline=spec.name,
        generation=generation,
        argv=argv,
        env=env,
        control_dir=control_dir,
        files_dir=str(files_dir),
        files=files,
        code_archive=code_archive,
        processor=spec.job.processor,
        ui_port=ui_port,
        ui_host=conf.get("spark.driver.bindAddress", "127.0.0.1"),
        receivers=plan.receivers,
        cores=plan.cores,
        checkpoint_dir=config.checkpoint_dir,
        max_attempts=spec.supervision.restart.driver_attempts if spec.supervision.enabled else 1,
    )


def sdk_environment(connection: AwsConnection, profile: ConnectorProfile) -> dict[str, str]:
    """What the connector's AWS SDK reads from the environment of the driver and the executors.

    KCL 1 (SDK v1) speaks CBOR to Kinesis, which the emulators do not take (SDK v2's switch is the
    `aws.cborEnabled` system property, set with the Java options); its DynamoDB and CloudWatch
    endpoints come from the region-override file instead. KCL 2 (SDK v2) reads
    `AWS_ENDPOINT_URL_<SERVICE>` for the clients Spark builds with a region only."""
    env: dict[str, str] = {}
    if profile is ConnectorProfile.KCL1:
        if connection.kinesis_emulated:
            env["AWS_CBOR_DISABLE"] = "true"
        return env
    for variable, url in (
        ("AWS_ENDPOINT_URL_DYNAMODB", connection.endpoint("dynamodb")),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", connection.endpoint("cloudwatch")),
    ):
        if url:
            env[variable] = url
    return env


def _spark_conf(spec: PipelineSpec, plan: ReceiverPlan) -> dict[str, str]:
    """The settings that shape the job (and so its checkpoint generation)."""
    local = plan.master.startswith("local")
    driver_host = "127.0.0.1" if local else (spec.job.driver_host or "")
    conf = {
        "spark.driver.host": driver_host,
        "spark.driver.bindAddress": driver_host,
        "spark.streaming.stopGracefullyOnShutdown": "false",
        "spark.ui.showConsoleProgress": "false",
        # The ledger's per-batch job (app/delivery.py) runs where Spark creates the batch, in a
        # pool of its own: under FAIR scheduling it gets the next free core, not the one after every
        # task of the batches ahead of it, so a job that falls behind keeps batches of one interval
        # (not one that swallows every block received meanwhile)
        "spark.scheduler.mode": "FAIR",
        "spark.streaming.blockInterval": "{}ms".format(
            block_interval_ms(
                batch_interval_seconds=spec.job.batch_interval_seconds,
                receivers=plan.receivers,
                processing_cores=plan.processing_cores,
            )
        ),
    }
    if plan.master == "yarn":
        policy = spec.supervision.restart
        cores_each = min(plan.cores, YARN_EXECUTOR_CORES)
        conf.update(
            {
                # receivers hold their cores for the job's life: no dynamic allocation (EMR's default)
                "spark.dynamicAllocation.enabled": "false",
                "spark.executor.cores": str(cores_each),
                "spark.executor.instances": str(math.ceil(plan.cores / cores_each)),
                "spark.yarn.maxAppAttempts": str(policy.driver_attempts if spec.supervision.enabled else 1),
                "spark.yarn.am.attemptFailuresValidityInterval": f"{round(policy.window_seconds)}s",
                "spark.yarn.submit.waitAppCompletion": "false",
                "spark.yarn.tags": f"kinesis-pipelines,pipeline:{spec.name}",
            }
        )
    conf.update(spec.job.spark_conf)
    return {key: value for key, value in conf.items() if value != ""}


def render_command(request: SubmitRequest) -> str:
    """The spark-submit line as a person would type it (environment first). A credential shows
    as a reference to the variable of the same name in the shell that runs it, never its value;
    only the embedded emulators' fixed test keys (not secrets) are written out."""
    env = []
    for key, value in sorted(request.env.items()):
        if key in CREDENTIAL_VARIABLES and EMULATOR_CREDENTIALS.get(key) != value:
            env.append(f'{key}="${key}"')
        else:
            env.append(f"{key}={shlex.quote(value)}")
    return f"{' '.join(env)} {shlex.join(request.argv)}"
