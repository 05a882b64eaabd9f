"""The typed pipeline spec: the one source of truth for a pipeline's configuration.

A spec names AWS resources and the Spark job; it never holds a secret. Credentials come from the
default AWS chain (environment, profile, instance role) or an assumed role.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
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
