"""How a driver and its launcher talk: files in the generation's control directory.

The launcher writes the job file (and, for emulators, the SDK v1 region override) there before
submitting; the driver writes its info file once its StreamingContext runs, and stops gracefully
when the stop marker appears. Where the directory lives is the launcher's choice: a local
folder for a driver on this host; a shared file system for a driver on a cluster."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

JOB_FILE = "job.json"
REGION_OVERRIDE_FILE = "region-override.xml"
INFO_FILE = "driver-info.json"
STOP_MARKER = "STOP"
ATTEMPTS_FILE = "attempts.json"  # the local launcher's record of the driver's attempts
# Set by a launcher that relaunches drivers itself: the fence owner this attempt must use, so the
# launcher can break a dead attempt's fence without waiting out its TTL.
FENCE_OWNER_ENV = "KP_FENCE_OWNER"


class DriverInfo(BaseModel):
    """What a running driver reports about itself."""

    model_config = ConfigDict(frozen=True)

    application_id: str
    ui_url: str | None = None
    generation: str
    receivers: int
    recovered_from_checkpoint: bool
    fence_owner: str = ""
    started_at: float
    pid: int | None = None
    python: str = ""  # the driver's Python, major.minor.micro
    spark_version: str = ""
