"""What one streaming driver runs: written by the launcher as job.json, read by the driver."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.aws.connection import AwsConnection


class DriverConfig(BaseModel):
    """Everything the receiver application needs. Holds no secret, by construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline: str
    application_name: str
    stream_name: str
    kinesis_endpoint: str
    region: str
    initial_position: str
    initial_timestamp_ms: int | None = None
    kcl_checkpoint_interval_seconds: float
    storage_level: str
    receivers: int
    batch_interval_seconds: float
    dedupe_window_seconds: float
    ledger_dir: str  # the delivery ledger: one per pipeline, across checkpoint generations
    checkpoint_dir: str
    generation: str
    control_dir: str  # job file in, driver info out, stop marker in (see app/control.py)
    processor: str
    sink_path: str
    dead_letter_path: str
    bad_records_policy: Literal["dead_letter", "fail"] = "dead_letter"
    batch_attempts: int = 3
    # an unreadable Spark checkpoint is set aside only when the operator said so (--discard-checkpoint)
    discard_unusable_checkpoint: bool = False
    # set by a roll back to a generation the pipeline left earlier: its checkpoint is older than
    # the generations that ran since, so the first driver of this roll sets it aside (see
    # receiver_app.set_aside_superseded); None: the checkpoint is this generation's latest
    superseded_before_ms: int | None = None
    drain_timeout_seconds: float = 1800.0  # receivers' last blocks are awaited this long in a drain
    fence_table: str | None = None
    # the receivers' write-ahead log: set by the application beside its ssc.checkpoint, which it
    # needs, rather than on the spark-submit line (where a plain application would get it alone)
    write_ahead_log: bool = True
    connection: AwsConnection  # the orchestrator's: same endpoints, trust and role
