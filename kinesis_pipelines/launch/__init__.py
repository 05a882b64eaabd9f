"""Where a pipeline's driver runs, chosen from its spec.

A new backend is a module here implementing `Launcher` (launch/base.py), a branch in
`launcher_for`, and the spec's validation of `job.master`; nothing else changes."""

from kinesis_pipelines.launch.base import (
    DriverRecord,
    DriverState,
    DriverStatus,
    Launcher,
    SubmitRequest,
)
from kinesis_pipelines.launch.local import LocalProcessLauncher
from kinesis_pipelines.launch.yarn import YarnLauncher
from kinesis_pipelines.spec import PipelineSpec


def launcher_for(spec: PipelineSpec) -> Launcher:
    """`yarn` runs the driver in YARN's ApplicationMaster (cluster mode); `local` and `spark://`
    masters run it as a process on this host (local mode, or client mode against a standalone
    cluster)."""
    if spec.job.master == "yarn":
        return YarnLauncher(spec)
    return LocalProcessLauncher(spec.driver_log)


__all__ = [
    "DriverRecord",
    "DriverState",
    "DriverStatus",
    "Launcher",
    "LocalProcessLauncher",
    "SubmitRequest",
    "YarnLauncher",
    "launcher_for",
]
