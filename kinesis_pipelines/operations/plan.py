"""What a deploy would create and submit. Reads AWS when it can; never changes anything."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.assembly.build import cached_jar_path
from kinesis_pipelines.aws.connection import AwsConnection, spec_endpoints
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.launch.submit import build_submit_request, render_command, write_submit_files
from kinesis_pipelines.operations.backends import Backends
from kinesis_pipelines.operations.deploy import receiver_plan
from kinesis_pipelines.spec import EMBEDDED, PipelineSpec
from kinesis_pipelines.spec.runtime import resolve_runtime, runtime_with
from kinesis_pipelines.spec.validation import check_processor
from kinesis_pipelines.tools import SparkInstallation


class PlanReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    pipeline: str
    stream: str
    stream_exists: bool | None
    open_shards: int
    shards_source: str
    application_table: str
    receivers: int
    cores: int
    master: str
    reason: str
    generation: str
    assembly_jar: str
    spark_submit: str
    credentials: str
    files: list[str]  # what the line reads from this host: written by deploy, or plan --write-files
    files_written: bool = False
    notes: list[str]


def plan(spec: PipelineSpec, backends: Backends, *, write_files: bool = False) -> PlanReport:
    """What a deploy would do. Changes nothing, unless `write_files`: then the files the printed
    spark-submit line reads (the job file, the SDK v1 endpoint override, the code zip) are written
    where it names them, so the line runs by hand as printed."""
    check_processor(spec.job.processor)
    runtime = resolve_runtime(spec)
    notes: list[str] = []
    stream_exists: bool | None
    try:
        connection = backends.connection
    except KinesisPipelinesError as exc:
        notes.append(str(exc))
        connection = _placeholder_connection(spec)
        stream_exists, open_shards = None, spec.stream.shards
        source = "the spec (AWS not reachable to check)"
    else:
        try:
            summary = backends.stream.describe()
            stream_exists = summary is not None
            if summary is not None:
                open_shards = len(backends.stream.open_shard_ids())
                source = "open shards of the existing stream"
            else:
                open_shards, source = spec.stream.shards, "the spec (the stream would be created)"
        except KinesisPipelinesError as exc:
            stream_exists = None
            open_shards, source = spec.stream.shards, "the spec (AWS not reachable to check)"
            notes.append(f"could not look at the stream: {exc}")
    plan_ = receiver_plan(spec, open_shards)
    spark_version = runtime.spark_version
    if runtime.installation is None:
        notes.append(f"{runtime.missing_spark}; the line below shows where its spark-submit goes")
        placeholder = SparkInstallation(
            Path("$SPARK_HOME"), spark_version, runtime.line.scala, "a placeholder"
        )
        runtime = runtime_with(spec, placeholder)
    jar = cached_jar_path(spark_version)
    if not jar.exists():
        notes.append("the assembly jar is not built yet; a deploy builds it with Maven")
    request = build_submit_request(
        spec, plan_, connection, str(jar), ui_port=4040,
        control_root=_control_root(backends), files_root=backends.store.root / "generations",
        runtime=runtime,
    )  # fmt: skip
    files = [str(Path(request.files_dir) / name) for name in sorted(request.files)]
    if request.code_archive:
        files.append(request.code_archive)
    if write_files:
        write_submit_files(request)
    elif not all(Path(path).exists() for path in files):
        notes.append(
            "the line reads files that do not exist yet ("
            + ", ".join(Path(path).name for path in files)
            + "): `kinesis-pipelines plan SPEC --write-files` writes them (a deploy does too)"
        )
    return PlanReport(
        pipeline=spec.name,
        stream=spec.stream.name,
        stream_exists=stream_exists,
        open_shards=open_shards,
        shards_source=source,
        application_table=spec.app_table.application_name,
        receivers=plan_.receivers,
        cores=plan_.cores,
        master=plan_.master,
        reason=plan_.reason,
        generation=request.generation,
        assembly_jar=str(jar),
        spark_submit=render_command(request),
        credentials=connection.credentials_source(),
        files=files,
        files_written=write_files,
        notes=notes,
    )


def _control_root(backends: Backends) -> str:
    local_root = backends.store.root / "generations"
    try:
        return backends.launcher.control_root(local_root)
    except KinesisPipelinesError:
        return "<the cluster's file system>/control"  # the Hadoop configuration is not readable here


def _placeholder_connection(spec: PipelineSpec) -> AwsConnection:
    """Endpoints to show when the embedded AWS is not running to resolve them."""
    shown = {
        service: ("https://<embedded>" if url == EMBEDDED else url)
        for service, url in spec_endpoints(spec).items()
        if url
    }
    return AwsConnection(
        region=spec.stream.region,
        endpoints=shown,
        role_arn=spec.credentials.role_arn,
        session_name=spec.credentials.session_name,
        external_id_env=spec.credentials.external_id_env,
    )
