"""The typed pipeline spec: the one source of truth for a pipeline's configuration.

A spec names AWS resources and the Spark job; it never holds a secret. Credentials come from the
default AWS chain (environment, profile, instance role) or an assumed role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.planning.reshard import RebalancePolicy
from kinesis_pipelines.planning.restarts import RestartPolicy
from kinesis_pipelines.versions import spark_line

EMBEDDED = "embedded"
"""An endpoint value meaning: the embedded local AWS that `kinesis-pipelines local-aws` runs."""
AWS_ITSELF = "aws"
"""An endpoint value meaning: AWS's own endpoint (the same as leaving it out); lets a template
switch between the embedded AWS and the real one, as in {{ env('KP_ENDPOINT', 'embedded') }}."""

STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
TABLE_NAME = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
SECRET_WORDS = ("secret", "password", "passwd", "token", "access.key", "accesskey", "credential")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class CapacityMode(str, Enum):
    PROVISIONED = "PROVISIONED"
    ON_DEMAND = "ON_DEMAND"


class InitialPosition(str, Enum):
    LATEST = "LATEST"
    TRIM_HORIZON = "TRIM_HORIZON"
    AT_TIMESTAMP = "AT_TIMESTAMP"


class StorageLevel(str, Enum):
    MEMORY_ONLY = "MEMORY_ONLY"
    MEMORY_ONLY_2 = "MEMORY_ONLY_2"
    MEMORY_AND_DISK = "MEMORY_AND_DISK"
    MEMORY_AND_DISK_2 = "MEMORY_AND_DISK_2"
    DISK_ONLY = "DISK_ONLY"


def _check_endpoint(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None or value == EMBEDDED:
        return value
    if value in (AWS_ITSELF, ""):
        return None
    if not re.match(r"^[a-z]+://[^/\s]+/?$", value):
        raise ValueError(
            f"must be {EMBEDDED!r}, {AWS_ITSELF!r} or a URL like https://host:port with no path, "
            f"got {value!r}"
        )
    scheme = value.split("://", 1)[0]
    if scheme not in schemes:
        raise ValueError(f"must use {' or '.join(schemes)}, got {scheme!r}")
    return value.rstrip("/")


class StreamSpec(_Model):
    """The Kinesis data stream the pipeline reads."""

    name: str = Field(
        description="Stream name: 1-128 of a-z, A-Z, 0-9, '_', '.', '-'.", examples=["shop-orders"]
    )
    region: str = Field(
        "us-east-1", description="AWS region of the stream and the lease table.", examples=["eu-west-1"]
    )
    endpoint_url: str | None = Field(
        None,
        description="Kinesis endpoint override: a URL, 'embedded', or none for AWS's own.",
        examples=["embedded", "https://vpce-0a1b2c3d.kinesis.eu-west-1.vpce.amazonaws.com"],
    )
    shards: int = Field(
        1, ge=1, le=500, description="Open shards to create the stream with (never changed later)."
    )
    capacity_mode: CapacityMode = Field(CapacityMode.PROVISIONED, description="Stream capacity.")
    retention_hours: int = Field(24, ge=24, le=8760, description="Record retention, 24 h to 365 days.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not STREAM_NAME.match(value):
            raise ValueError("a stream name is 1-128 characters of a-z, A-Z, 0-9, '_', '.', '-'")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError("a region looks like 'us-east-1' or 'eu-west-2'")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _check_endpoint(value, ("http", "https"))


class AppTableSpec(_Model):
    """The KCL application: its name is the DynamoDB lease and checkpoint table's name."""

    application_name: str = Field(
        description="KCL application name = DynamoDB table name: 3-255 of a-z A-Z 0-9 _ . -",
        examples=["shop-orders-spark"],
    )
    endpoint_url: str | None = Field(
        None,
        description=(
            "DynamoDB endpoint override: an https URL or 'embedded'. The KCL 1 inside Spark 3.3 "
            "reaches DynamoDB through an AWS SDK region override, which is HTTPS only."
        ),
        examples=["embedded"],
    )

    @field_validator("application_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TABLE_NAME.match(value):
            raise ValueError(
                "an application (table) name is 3-255 characters of a-z, A-Z, 0-9, '_', '.', '-'"
            )
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _check_endpoint(value, ("http", "https"))


JOB_FS_SCHEMES = ("hdfs", "s3a", "file")


def is_host_path(value: str) -> bool:
    """A plain path (no scheme): a folder on the host that runs the driver."""
    return "://" not in value


def check_job_path(value: str) -> str:
    """A plain path, or a Hadoop file system URI the job writes through (hdfs, s3a, file)."""
    if not value.strip():
        raise ValueError("must not be empty")
    if is_host_path(value):
        return value
    scheme, _, rest = value.partition("://")
    if scheme not in JOB_FS_SCHEMES:
        raise ValueError(
            f"file systems are {', '.join(s + '://' for s in JOB_FS_SCHEMES)} or a plain path; "
            f"got {scheme}://"
        )
    if scheme == "file" and not rest.startswith("/"):
        raise ValueError(f"a file:// URI needs an absolute path, like file:///data/x; got {value!r}")
    if scheme in ("hdfs", "s3a") and (not rest or (rest.startswith("/") and scheme == "s3a")):
        raise ValueError(f"{scheme}:// needs a {'bucket' if scheme == 's3a' else 'path'}, got {value!r}")
    return value.rstrip("/") if rest.strip("/") else value


class DirectorySink(_Model):
    """Each batch becomes one directory `batch-<time ms>` of JSON lines, replaced on replay."""

    kind: Literal["directory"] = Field("directory", description="The sink's kind; directory is the only one.")
    path: str = Field(
        description=(
            "Directory that receives one sub-directory per batch: a plain path, or an hdfs://, "
            "s3a:// or file:// URI."
        ),
        examples=["output/orders", "hdfs:///data/orders", "s3a://my-bucket/orders"],
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_job_path(value)


class BadRecordsSpec(_Model):
    """What becomes of a record the job cannot decode and of a batch its processor keeps failing on."""

    policy: Literal["dead_letter", "fail"] = Field(
        "dead_letter",
        description=(
            "dead_letter: records that are not UTF-8, and batches whose processing failed "
            "batch_attempts times, go to the dead-letter location with the reason, and the job "
            "goes on; fail: the job stops on them (a restart meets them again)."
        ),
    )
    path: str | None = Field(
        None,
        description=(
            "The dead-letter location (a plain path, or an hdfs://, s3a:// or file:// URI). Left "
            "out: `_dead_letters` inside the sink's directory, which Spark and Hadoop readers of "
            "the sink skip."
        ),
        examples=["s3a://my-bucket/orders-dead-letters"],
    )
    batch_attempts: int = Field(
        3,
        ge=1,
        le=100,
        description=(
            "Tries of a batch's processing before it is taken apart: the records that fail on "
            "their own are dead-lettered and the rest published."
        ),
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else check_job_path(value)


class CredentialsSpec(_Model):
    """Where AWS credentials come from. Never a literal secret: env vars or roles only."""

    source: Literal["default_chain", "assume_role"] = Field(
        "default_chain",
        description="default_chain: env vars, profile or instance role; assume_role: STS role.",
    )
    role_arn: str | None = Field(
        None,
        description="Role to assume when source is assume_role.",
        examples=["arn:aws:iam::123456789012:role/kp-orders"],
    )
    session_name: str = Field("kinesis-pipelines", description="STS session name.")
    session_duration_seconds: int = Field(
        3600,
        ge=900,
        le=43200,
        description="How long each assumed-role session lasts (refreshed before it ends).",
    )
    external_id_env: str | None = Field(
        None,
        description="Name of the env var holding the STS external id (never the id itself).",
        examples=["KP_ORDERS_EXTERNAL_ID"],
    )

    @field_validator("role_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not ROLE_ARN.match(value):
            raise ValueError("a role ARN looks like arn:aws:iam::123456789012:role/name")
        return value

    @field_validator("external_id_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_VAR.match(value):
            raise ValueError("must name an environment variable, like MY_EXTERNAL_ID")
        return value

    @model_validator(mode="after")
    def _role_needed(self) -> CredentialsSpec:
        if self.source == "assume_role" and self.role_arn is None:
            raise ValueError("source 'assume_role' needs role_arn")
        if self.source == "default_chain" and self.role_arn is not None:
            raise ValueError("role_arn is only used with source 'assume_role'")
        return self


class JobSpec(_Model):
    """The Spark Streaming receiver job."""

    spark_version: str | None = Field(
        None,
        description=(
            "Spark release of the job (major.minor.patch). It picks the connector (Scala 2.12 for "
            "3.x, 2.13 for 4.x) and its profile (KCL 1 up to 4.1, KCL 2 from 4.2). Left out: the "
            "version of the Spark the submit uses."
        ),
        examples=["3.3.0"],
    )
    spark_home: str | None = Field(
        None,
        description=(
            "The Spark installation this pipeline submits with (a cluster's client or a "
            "distribution: the folder with bin/ and jars/). Left out: SPARK_HOME, then the "
            "pyspark of the kinesis-pipelines[spark] extra."
        ),
        examples=["/usr/lib/spark"],
    )
    master: str = Field(
        "local",
        description=(
            "'local' (becomes local[cores] from the plan), spark://host:port (a standalone "
            "cluster; the driver runs on this host in client mode) or 'yarn' (cluster mode: the "
            "driver runs in YARN's ApplicationMaster)."
        ),
        examples=["local", "spark://spark-master:7077", "yarn"],
    )
    hadoop_conf_dir: str | None = Field(
        None,
        description=(
            "Folder with the cluster's core-site.xml and yarn-site.xml for master 'yarn'; "
            "HADOOP_CONF_DIR when left out."
        ),
        examples=["/etc/hadoop/conf"],
    )
    driver_host: str | None = Field(
        None,
        description=(
            "spark:// masters: the address of this host that the workers reach the driver at "
            "(the driver binds to it). Left out, Spark picks this host's address. Local mode "
            "always uses 127.0.0.1."
        ),
        examples=["10.0.1.15"],
    )
    python: str | None = Field(
        None,
        description=(
            "The Python that runs the driver and the executors; it needs pydantic and boto3 and a "
            "version the Spark line supports. For local and spark:// masters an interpreter on "
            "this host (left out: this one); on YARN the nodes' Python (left out: 'python3')."
        ),
        examples=["/usr/bin/python3.10"],
    )
    python_version: str | None = Field(
        None,
        pattern=r"^3\.\d{1,2}$",
        description=(
            "major.minor of job.python on YARN's nodes, which nothing here can ask, so that "
            "validation checks it against the Spark line; a Python on this host is asked directly."
        ),
        examples=["3.10"],
    )
    batch_interval_seconds: float = Field(2.0, gt=0, le=3600, description="Batch interval.")
    dedupe_window_seconds: float = Field(
        120.0,
        ge=0,
        le=86400,
        description=(
            "Records KCL reads again (after a lease moves between receivers, or a restart from a "
            "KCL checkpoint) are dropped when they were first delivered within this many seconds "
            "of batches; 0 turns the delivery ledger off (at-least-once)."
        ),
    )
    kcl_checkpoint_interval_seconds: float = Field(
        2.0, gt=0, le=3600, description="How often KCL saves each shard's position to DynamoDB."
    )
    initial_position: InitialPosition = Field(
        InitialPosition.TRIM_HORIZON,
        description="Where a shard with no KCL checkpoint starts.",
    )
    initial_timestamp: datetime | None = Field(
        None, description="Start time for AT_TIMESTAMP.", examples=["2026-01-31T12:00:00Z"]
    )
    storage_level: StorageLevel = Field(
        StorageLevel.MEMORY_AND_DISK_2, description="Storage level of received blocks."
    )
    max_receivers: int = Field(8, ge=1, le=500, description="Upper bound on input DStreams.")
    executor_cores: int = Field(
        4, ge=2, le=1024, description="Cores the job may use in all: receivers + processing."
    )
    processing_cores: int = Field(
        1, ge=1, le=1024, description="Cores kept free of receivers so batches get processed."
    )
    checkpoint_dir: str = Field(
        description=(
            "Spark checkpoint root (the receivers' write-ahead log and the delivery ledger live "
            "under it); each config generation gets a sub-directory. A plain path (relative ones "
            "live under KINESIS_PIPELINES_HOME) in local mode; an hdfs://, s3a:// or file:// URI "
            "on a cluster."
        ),
        examples=["checkpoints", "hdfs:///kinesis-pipelines/checkpoints"],
    )
    write_ahead_log: bool = Field(
        True,
        description=(
            "Receiver write-ahead log: received but unprocessed data survives a driver kill. "
            "Off trades that guarantee for throughput."
        ),
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark settings (no secrets: use env vars).",
        examples=[{"spark.driver.memory": "2g", "spark.executor.memory": "2g"}],
    )
    processor: str = Field(
        "kinesis_pipelines.app.processors:passthrough",
        description="Import path 'module:function' of a function DStream[str] -> DStream.",
        examples=["my_package.orders:enrich"],
    )
    sink: DirectorySink = Field(
        description="Where each batch's output goes.", examples=[{"path": "output/orders"}]
    )
    bad_records: BadRecordsSpec = Field(
        default_factory=BadRecordsSpec,
        description="Records that cannot be decoded, batches that cannot be processed.",
    )
    drain_timeout_seconds: float = Field(
        1800.0,
        gt=0,
        le=7 * 86400,
        description=(
            "How long a roll (a spec change, a rebalance) waits for the old generation, working "
            "through what it received, to finish a Spark task before it gives up on it: it is never "
            "cut off while tasks finish. Past it the driver is killed and its generation is drained "
            "from its checkpoint (with the same patience); the new generation starts only after."
        ),
    )

    @field_validator("spark_version")
    @classmethod
    def _spark_version(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                spark_line(value)
            except SpecError as exc:
                raise ValueError(str(exc).removeprefix("job.spark_version: ")) from exc
        return value

    @field_validator("master")
    @classmethod
    def _master(cls, value: str) -> str:
        if value in ("local", "yarn") or re.match(r"^spark://[^/\s:]+:\d{1,5}$", value):
            return value
        raise ValueError(
            "master is 'local' (cores come from the plan), spark://host:port or 'yarn'; "
            "write executor_cores instead of local[N]"
        )

    @field_validator("checkpoint_dir")
    @classmethod
    def _job_path(cls, value: str) -> str:
        return check_job_path(value)

    @field_validator("python", "spark_home")
    @classmethod
    def _unset_when_empty(cls, value: str | None) -> str | None:
        return value or None  # `{{ env('X', '') }}` left unset means the default

    @field_validator("driver_host")
    @classmethod
    def _driver_host(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9.:-]{1,253}$", value):
            raise ValueError("driver_host is a host name or an IP address of this host")
        return value

    @field_validator("processor")
    @classmethod
    def _processor(cls, value: str) -> str:
        if not IMPORT_PATH.match(value):
            raise ValueError("a processor is an import path like 'my_package.module:function'")
        return value

    @field_validator("spark_conf")
    @classmethod
    def _conf(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.startswith("spark."):
                raise ValueError(f"Spark settings start with 'spark.', got {key!r}")
            if any(word in key.lower() for word in SECRET_WORDS):
                raise ValueError(
                    f"{key!r} looks like a secret: Spark settings are written to run config and "
                    "Spark checkpoints; pass secrets as environment variables instead"
                )
        return value

    @model_validator(mode="after")
    def _cross_fields(self) -> JobSpec:
        at_timestamp = self.initial_position is InitialPosition.AT_TIMESTAMP
        if at_timestamp and self.initial_timestamp is None:
            raise ValueError(
                "initial_position AT_TIMESTAMP needs initial_timestamp, an ISO 8601 time with "
                "a zone, like 2026-01-31T12:00:00Z"
            )
        if self.initial_timestamp is not None and not at_timestamp:
            raise ValueError("initial_timestamp is only used with initial_position AT_TIMESTAMP")
        if self.initial_timestamp is not None and self.initial_timestamp.tzinfo is None:
            raise ValueError("initial_timestamp needs a time zone, like 2026-01-31T12:00:00Z")
        cluster = self.master != "local"
        places = [("checkpoint_dir", self.checkpoint_dir), ("sink.path", self.sink.path)]
        if self.bad_records.path is not None:
            places.append(("bad_records.path", self.bad_records.path))
        for field, value in places:
            if cluster and is_host_path(value):
                raise ValueError(
                    f"{field} {value!r} is a path on this host, but master {self.master!r} runs "
                    "executors (and on YARN the driver) on other machines; use a file system "
                    "every node reaches: hdfs://namenode/path, s3a://bucket/path, or "
                    "file:///path for a folder every node mounts at that path"
                )
        if self.master != "yarn" and self.python_version is not None:
            raise ValueError(
                "python_version is only used with master 'yarn'; a Python on this host is asked "
                "its version directly"
            )
        if self.master != "yarn" and self.hadoop_conf_dir is not None:
            raise ValueError("hadoop_conf_dir is only used with master 'yarn'")
        if self.driver_host is not None and not self.master.startswith("spark://"):
            raise ValueError(
                "driver_host is only used with spark:// masters (local mode binds to 127.0.0.1; "
                "on YARN the driver runs in the ApplicationMaster)"
            )
        if self.processing_cores >= self.executor_cores:
            raise ValueError(
                f"executor_cores ({self.executor_cores}) must exceed processing_cores "
                f"({self.processing_cores}): each receiver needs a core of its own"
            )
        return self


class SupervisionSpec(_Model):
    """How the pipeline is watched and restarted."""

    enabled: bool = Field(True, description="Restart a failed or stalled job automatically.")
    stall_batches: int = Field(
        5,
        ge=2,
        le=1000,
        description=(
            "Stalled after this many batch intervals in which neither a batch nor a Spark task "
            "finished (a slow batch or a recovering driver finishes tasks, and is not replaced)."
        ),
    )
    startup_grace_seconds: float = Field(
        120.0,
        ge=0,
        le=3600,
        description=(
            "How long a new driver may take to complete its first batch before silence counts as a "
            "stall (a busy YARN queue can take minutes to give it containers)."
        ),
    )
    task_stall_seconds: float = Field(
        900.0,
        gt=0,
        le=86400,
        description=(
            "While Spark tasks run, a driver finishing no batch is working, not stalled (a big "
            "block, a slow processor, a driver recovering a backlog), until no task has finished "
            "for this long: a processor hung on a call with no timeout."
        ),
    )
    lag_limit_seconds: float = Field(
        300.0, gt=0, description="Lag per shard (behind the newest record) the lag check allows."
    )
    restart: RestartPolicy = Field(
        default_factory=RestartPolicy,
        description="When a failed or stalled job is restarted: back-off, and a budget per window.",
    )
    fence_table: str = Field(
        "kinesis-pipelines-fences",
        description="DynamoDB table of driver fences (one item per KCL application).",
    )

    @field_validator("fence_table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not TABLE_NAME.match(value):
            raise ValueError("a table name is 3-255 characters of a-z, A-Z, 0-9, '_', '.', '-'")
        return value


class DriverLogSpec(_Model):
    """How the log of a driver that runs on this host (master local or spark://) is kept: rotated by
    size, a few rotated files kept. On YARN the driver's log is its container's, kept by YARN."""

    max_mb: int = Field(
        100,
        ge=1,
        le=100_000,
        description=(
            "Size of each log file in MiB (1,048,576 bytes): when driver.log would pass it, it "
            "becomes driver.log.1 and a new driver.log begins. A line written at once is not split "
            "across files unless it is longer than this."
        ),
        examples=[100, 20],
    )
    backups: int = Field(
        5,
        ge=1,
        le=100,
        description=(
            "Rotated files kept beside driver.log (driver.log.1 the newest ... driver.log.N); "
            "older ones are deleted. At most (backups + 1) x max_mb MiB per driver."
        ),
        examples=[5, 2],
    )


class PipelineSpec(_Model):
    """One Kinesis → Spark pipeline."""

    name: str = Field(
        description="Pipeline name: lower case, digits, '_'; used in asset keys.", examples=["orders"]
    )
    description: str = Field("", description="Shown in the Dagster UI.")
    owners: list[str] = Field(
        default_factory=list,
        description="Dagster owners (emails, teams).",
        examples=[["team:payments", "someone@example.com"]],
    )
    stream: StreamSpec = Field(description="The Kinesis stream the job reads; created when missing.")
    app_table: AppTableSpec = Field(
        description="The KCL application and its DynamoDB lease table; created when missing."
    )
    job: JobSpec = Field(
        description="The Spark Streaming job: where it runs, its receivers, checkpoints, processor, sink."
    )
    credentials: CredentialsSpec = Field(
        default_factory=CredentialsSpec,
        description="Where the orchestrator's and the driver's AWS credentials come from.",
    )
    supervision: SupervisionSpec = Field(
        default_factory=SupervisionSpec,
        description="The health sensor: when the job is stalled or behind, and its restarts.",
    )
    rebalancing: RebalancePolicy = Field(
        default_factory=RebalancePolicy,
        description="The rebalance schedule: reshard the stream and resize the receivers to the load.",
    )
    driver_log: DriverLogSpec = Field(
        default_factory=DriverLogSpec,
        description=(
            "Rotation of the driver's log on this host. Outside `job` because it changes nothing "
            "the driver runs: a change applies from the driver's next start and starts no new "
            "checkpoint generation."
        ),
    )
    cloudwatch_endpoint_url: str | None = Field(
        None,
        description="CloudWatch endpoint override for KCL metrics: a URL (https with KCL 1) or 'embedded'.",
        examples=["embedded"],
    )

    @model_validator(mode="before")
    @classmethod
    def _no_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for path in _walk_keys(data):
                lowered = path.rsplit(".", 1)[-1].lower()
                if "secret" in lowered or lowered in {"aws_access_key_id", "access_key"}:
                    raise ValueError(
                        f"{path}: a spec never holds secrets; set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY in the environment, or use credentials.role_arn"
                    )
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PIPELINE_NAME.match(value):
            raise ValueError("a pipeline name starts with a-z and has up to 63 of a-z, 0-9 and '_'")
        return value

    @field_validator("cloudwatch_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return _check_endpoint(value, ("http", "https"))


def _walk_keys(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every key (spark_conf is checked by its own rule)."""
    keys: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "spark_conf":
                continue
            path = f"{prefix}{key}"
            keys.append(path)
            keys.extend(_walk_keys(value, path + "."))
    return keys


def load_spec(path: str | Path) -> PipelineSpec:
    """Read and validate a pipeline spec file. Raises SpecError naming file, line and field."""
    path = Path(path)
    return parse_spec(_read_spec_text(path), source=str(path))


COMPONENT_TYPE = "kinesis_pipelines.components.KinesisPipeline"


def _read_spec_text(path: Path) -> str:
    """The spec file's text. A missing file, a directory, an unreadable file or bytes that are not
    UTF-8 give one SpecError naming the path (and, for bad bytes, the line and byte offset)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        where = "" if path.is_absolute() else f" (looked for {path.absolute()})"
        if path.is_dir():
            hint = f"; did you mean {path / 'defs.yaml'}?" if (path / "defs.yaml").is_file() else ""
            reason = f"it is a directory; pass the spec file itself{hint}"
        elif isinstance(exc, FileNotFoundError):
            reason = f"no such file{where}"
        else:
            reason = exc.strerror or str(exc)
        raise SpecError(f"{path}: cannot read the spec file: {reason}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
        hint = " (it looks like UTF-16)" if utf16 else ""
        raise SpecError(
            f"{path}:{line}: not UTF-8 text{hint}: byte 0x{raw[exc.start]:02x} at byte offset "
            f"{exc.start} is not valid UTF-8; a pipeline spec must be UTF-8 text, so save the file "
            "as UTF-8"
        ) from exc


def parse_spec(text: str, source: str = "<spec>") -> PipelineSpec:
    """Validate a spec held in YAML: a bare spec, or a Dagster `defs.yaml` whose `type` is the
    KinesisPipeline component and whose `attributes` are the spec. `{{ env('X', 'default') }}`
    templates resolve as Dagster resolves them."""
    try:
        node = None if _is_blank(text) else yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None or _is_empty(node):
            raise SpecError(
                f"{source}: the file is empty; a pipeline spec needs type: {COMPONENT_TYPE} and "
                f"attributes: (`dg scaffold defs {COMPONENT_TYPE} NAME` writes one)"
            )
        _refuse_duplicate_keys(node, source)
        data = _construct(node)
    except yaml.YAMLError as exc:
        raise SpecError(_yaml_error_message(exc, text, source)) from exc
    if isinstance(data, dict) and "type" in data:
        if data["type"] != COMPONENT_TYPE:
            raise SpecError(f"{source}:1: type: {data['type']!r} is not a pipeline; use {COMPONENT_TYPE}")
        unknown = sorted(set(data) - {"type", "attributes"})
        if unknown:
            raise SpecError(f"{source}: {unknown[0]}: unknown key; allowed: type, attributes")
        data = data.get("attributes")
        node = _child(node, "attributes")
    if not isinstance(data, dict):
        where = f"{source}:{node.start_mark.line + 1}" if node is not None else source
        raise SpecError(f"{where}: a spec is a YAML mapping with keys name, stream, app_table, job")
    data = resolve_templates(data, source, node)
    return validate_spec_data(data, source=source, node=node)


def _yaml_error_message(exc: yaml.YAMLError, text: str, source: str) -> str:
    """One line: file, line and PyYAML's problem."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow, like NUL
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return (
            f"{source}:{line}: not valid YAML: character #x{code:04x} at offset {exc.position} "
            f"is not allowed ({exc.reason})"
        )
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{source}{where}: not valid YAML: {problem}"


def _is_blank(text: str) -> bool:
    """Only whitespace (tabs too, which PyYAML would refuse) and comments."""
    lines = text.lstrip("\ufeff").splitlines()
    return all(not line.strip() or line.lstrip().startswith("#") for line in lines)


def _is_empty(node: yaml.Node | None) -> bool:
    """Nothing, or only comments, whitespace or a bare `---`."""
    return node is None or (
        isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.value == ""
    )


_MERGE_TAG = "tag:yaml.org,2002:merge"
_NO_KEY = object()


def _refuse_duplicate_keys(root: yaml.Node, source: str) -> None:
    """YAML lets a repeated key silently replace the earlier one; a spec refuses it, naming both
    lines. Checks the already composed tree (one parse), before `<<` merge keys are flattened, so
    overriding a merged-in key stays allowed. Keys compare as the loader builds them, so `1` and
    `0x1` are the same key, as they would be in the loaded mapping. An alias inside its own anchor
    (a recursive spec) is refused too."""
    component = isinstance(root, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == "type" for k, _ in root.value
    )

    def field(path: tuple) -> str:
        if component and len(path) > 1 and path[0] == "attributes":
            path = path[1:]  # fields are named as in every other message: inside attributes
        return ".".join(str(part) for part in path) or "(top level)"

    loader = yaml.SafeLoader("")
    try:
        problem = next(_key_problems(root, (), set(), set(), loader), None)
    finally:
        loader.dispose()
    if problem is None:
        return
    path, first, again = problem
    if first is again:
        raise SpecError(
            f"{source}:{first.start_mark.line + 1}: {field(path)}: an alias (*name) inside its own "
            "anchor (&name) makes the spec recursive; a spec cannot refer to itself"
        )
    raise SpecError(
        f"{source}:{again.start_mark.line + 1}: {field(path)}: duplicate key {path[-1]!r} (first at "
        f"line {first.start_mark.line + 1}); keep one (YAML would silently use the last)"
    )


def _key_problems(
    node: yaml.Node, path: tuple, seen: set[int], ancestors: set[int], loader: yaml.SafeLoader
) -> Iterator[tuple[tuple, yaml.Node, yaml.Node]]:
    """In document order: (path of the key, first key node, repeated key node) for a duplicate
    key; (path, node, node) for a node that contains itself through an alias."""
    if id(node) in ancestors:
        yield path, node, node
        return
    if id(node) in seen:  # an alias to an anchor checked already
        return
    seen.add(id(node))
    ancestors.add(id(node))
    if isinstance(node, yaml.MappingNode):
        firsts: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = _key_of(key_node, loader)
            if key is not _NO_KEY and key in firsts:
                yield (*path, key), firsts[key], key_node
            elif key is not _NO_KEY:
                firsts[key] = key_node
            part = key_node.value if key is _NO_KEY else key
            yield from _key_problems(value_node, (*path, part), seen, ancestors, loader)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _key_problems(item, (*path, index), seen, ancestors, loader)
    ancestors.discard(id(node))


def _key_of(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """A mapping key as the loader builds it; _NO_KEY for merge keys and keys that are not plain
    scalars (building the data reports those it cannot use)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag == _MERGE_TAG:
        return _NO_KEY
    try:
        key = loader.construct_object(node)
        hash(key)
    except (yaml.YAMLError, TypeError, ValueError, AttributeError, OverflowError):
        return _NO_KEY
    return key


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader whose value errors (`!!int abc`, `!!timestamp soon`) are YAML errors with a line,
    not a bare ValueError from deep inside PyYAML."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {_shown(node)} as {node.tag}", node.start_mark
            ) from exc


def _shown(node: yaml.Node) -> str:
    return repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"


def _construct(node: yaml.Node | None) -> Any:
    """Python data from an already composed node (one parse gives both data and line numbers)."""
    if node is None:
        return None
    loader = _SpecLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def resolve_templates(data: Any, source: str, node: yaml.Node | None, path: tuple = ()) -> Any:
    """Resolve Dagster-style `{{ ... }}` templates in strings; errors name file, line, field."""
    if isinstance(data, dict):
        return {key: resolve_templates(value, source, node, (*path, key)) for key, value in data.items()}
    if isinstance(data, list):
        return [resolve_templates(v, source, node, (*path, i)) for i, v in enumerate(data)]
    if not (isinstance(data, str) and "{{" in data):
        return data
    from dagster.components.resolved.context import ResolutionContext

    field = ".".join(str(p) for p in path)
    line = _line_of(node, list(path)) if node is not None else None
    where = f"{source}:{line}" if line else source
    try:
        value = ResolutionContext.default().resolve_value(data)
    except Exception as exc:
        raise SpecError(f"{where}: {field}: template {data!r} failed: {exc}") from exc
    if value is None:
        raise SpecError(
            f"{where}: {field}: template {data!r} gave nothing: an environment variable it "
            "reads is not set; set it or give a default, as in {{ env('NAME', 'default') }}"
        )
    return value


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return v
    return None


def validate_spec_data(
    data: dict[str, Any], source: str = "<spec>", node: yaml.Node | None = None
) -> PipelineSpec:
    """Validate already-parsed spec data, turning pydantic's errors into one readable SpecError."""
    try:
        return PipelineSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source, node)) from exc


def format_validation_error(exc: ValidationError, source: str, node: yaml.Node | None = None) -> str:
    lines = [f"{source}: invalid pipeline spec ({exc.error_count()} problem(s))"]
    for error in exc.errors():
        loc = [part for part in error["loc"] if not str(part).startswith("function-")]
        field = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(node, loc) if node is not None else None
        where = f"{source}:{line}" if line else source
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key; allowed here: " + ", ".join(_allowed_keys(loc[:-1]))
        elif error["type"] == "missing":
            message = "required field is missing"
        got = error.get("input")
        suffix = (
            f" (got {got!r})"
            if error["type"] not in {"missing", "extra_forbidden"} and not isinstance(got, dict)
            else ""
        )
        lines.append(f"  {where}: {field}: {message}{suffix}")
    return "\n".join(lines)


def _line_of(node: yaml.Node, loc: list[Any]) -> int | None:
    current = node
    line = current.start_mark.line + 1
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if k.value == str(part)), None)
            key = next((k for k, _ in current.value if k.value == str(part)), None)
            if match is None or key is None:
                return line
            line = key.start_mark.line + 1
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                return line
            current = current.value[part]
            line = current.start_mark.line + 1
        else:
            return line
    return line


def _allowed_keys(loc: list[Any]) -> list[str]:
    model: type[BaseModel] = PipelineSpec
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None) if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return sorted(model.model_fields)
