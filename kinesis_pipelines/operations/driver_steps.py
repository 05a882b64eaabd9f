"""Steps every roll takes around a driver: make sure an old one is gone and hand its fence and
leases over, check nobody else's driver runs, wait for a new one to come up."""

from __future__ import annotations

import time

from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.handover import clear_dead_driver
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch import DriverRecord, DriverState
from kinesis_pipelines.operations.backends import Backends, Progress
from kinesis_pipelines.spec import PipelineSpec


def clear_after(spec: PipelineSpec, backends: Backends, old: DriverRecord, say: Progress) -> None:
    """Once the old driver is gone: make sure (a zombie is killed), break its fence and
    release its leases so the next driver takes them at once."""
    launcher = backends.launcher
    status = launcher.status(old)
    if status.state is DriverState.UNKNOWN:
        # another host's driver, or one its backend cannot see: it may be alive, so neither its
        # fence nor its leases are touched; the fence check before a submit tells a live driver
        # (it renews its fence) from a dead one (its fence stays silent for the TTL)
        say(
            f"{old.pipeline}: cannot tell whether {old.driver_id} still runs ({status.detail or 'unknown'}); "
            "its fence and leases are left to the fence check"
        )
        return
    if status.state is DriverState.RUNNING:
        say(f"{old.pipeline}: {old.driver_id} did not stop; killing it")
        launcher.kill(old)
    info = launcher.driver_info(old)
    owner = info.fence_owner if info else None
    if not owner and old.fence_owner_prefix:
        # the driver's own report is gone (another host, a lost control directory), but its
        # record says how its fence owners are named: a holder so named is that dead driver
        holder = fence.current(
            backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name
        )
        if holder is not None and holder[0].startswith(old.fence_owner_prefix):
            owner = holder[0]
    released = clear_dead_driver(
        backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name, owner
    )
    if released:
        say(f"{old.pipeline}: released {released} lease(s) of the stopped driver")


def check_fence_free(spec: PipelineSpec, backends: Backends) -> None:
    """No driver of this application may run anywhere: a fence its holder renews means one does;
    a fence left silent for its TTL (seen on this host's own clock) is a dead driver's, broken."""
    try:
        fence.check_free(backends.dynamodb, spec.supervision.fence_table, spec.app_table.application_name)
    except fence.FenceHeld as exc:
        raise LaunchError(
            f"{spec.name}: application {spec.app_table.application_name!r} already has a running "
            f"driver ({exc.owner}, renewing its fence); stop it first (the stop job or "
            "`kinesis-pipelines stop`)"
        ) from exc


def wait_started(backends: Backends, record: DriverRecord, say: Progress) -> None:
    launcher = backends.launcher
    timeout = backends.start_timeout_seconds
    deadline = time.monotonic() + timeout
    next_note = time.monotonic() + 5
    while time.monotonic() < deadline:
        if launcher.driver_info(record) is not None:
            return
        status = launcher.status(record)
        if status.state is not DriverState.RUNNING:
            raise LaunchError(
                f"the driver of {record.pipeline} exited ({status.state.value}, exit code "
                f"{status.exit_code}) before starting; its log ends:\n{tail(launcher.logs(record))}"
            )
        if time.monotonic() > next_note:
            say(f"{record.pipeline}: waiting for the driver to start")
            next_note = time.monotonic() + 5
        time.sleep(0.3)
    launcher.kill(record)
    raise LaunchError(
        f"the driver of {record.pipeline} did not start within {timeout:.0f} s; killed it. "
        f"Log:\n{tail(launcher.logs(record))}"
    )


def tail(log: str, lines: int = 30) -> str:
    return "\n".join(log.splitlines()[-lines:]) or "(no log)"
