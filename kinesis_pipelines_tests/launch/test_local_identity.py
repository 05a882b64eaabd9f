"""A driver is known by its host, boot and start time as well as its process id: a record whose id
now belongs to another process, or that was made on another host, is never signalled. A real
`sleep` process (led in its own group, like a driver) stands in for the process that took the id."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kinesis_pipelines.launch import DriverRecord, DriverState, LocalProcessLauncher
from kinesis_pipelines.launch.local import EXIT_FILE
from kinesis_pipelines.processes import (
    ProcessIdentity,
    Sameness,
    compare,
    identify,
    sameness,
    start_ticks,
)


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process this test owns that has a recorded driver's process id now."""
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def record_for(pid: int, control_dir: Path, **identity: object) -> DriverRecord:
    return DriverRecord(
        backend="local-process",
        driver_id=f"local-{pid}",
        pid=pid,
        pipeline="identity",
        generation="g1",
        control_dir=str(control_dir),
        log_location=str(control_dir / "driver.log"),
        ui_url="http://127.0.0.1:1",
        submitted_at=time.time(),
        **identity,
    )


def still_running(process: subprocess.Popen[bytes]) -> bool:
    time.sleep(0.3)  # a signal, had one been sent, has landed
    return process.poll() is None


def test_compare_tells_the_same_process_from_a_reused_id_a_reboot_and_another_host() -> None:
    here = ProcessIdentity(host="a", boot_id="b1", start_ticks=100)
    assert compare(here, here) is Sameness.SAME
    assert compare(here, here.model_copy(update={"start_ticks": 101})) is Sameness.REUSED
    assert compare(here, here.model_copy(update={"start_ticks": None})) is Sameness.GONE
    assert compare(here, here.model_copy(update={"boot_id": "b2"})) is Sameness.REBOOTED
    assert compare(here, here.model_copy(update={"host": "z"})) is Sameness.OTHER_HOST
    # an older record knows only the id: trusted as before, on whatever host it was made
    assert compare(ProcessIdentity(), here) is Sameness.SAME
    assert compare(ProcessIdentity(host="a"), here.model_copy(update={"start_ticks": None})) is Sameness.GONE


def test_a_process_is_identified_by_its_start_time(bystander: subprocess.Popen[bytes]) -> None:
    found = identify(bystander.pid)
    assert found.start_ticks == start_ticks(bystander.pid) is not None
    assert found.boot_id and found.host
    assert sameness(bystander.pid, found) is Sameness.SAME
    assert sameness(bystander.pid, found.model_copy(update={"start_ticks": found.start_ticks - 1})) is (
        Sameness.REUSED
    )


def test_pid_reuse_a_driver_whose_pid_now_belongs_to_another_process_is_not_signalled(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    """The recorded driver is gone; its id belongs to the bystander now (same host and boot, a
    different start time). Status says the driver failed, and neither stop nor kill reaches the
    bystander, though it leads a process group of that id."""
    now = identify(bystander.pid)
    assert now.start_ticks is not None
    record = record_for(
        bystander.pid, tmp_path, host=now.host, boot_id=now.boot_id, start_ticks=now.start_ticks - 7
    )
    launcher = LocalProcessLauncher()
    status = launcher.status(record)
    assert status.state is DriverState.FAILED
    assert "now belongs to another process" in status.detail
    assert launcher.stop_gracefully(record, timeout=1).state is DriverState.FAILED
    assert still_running(bystander)
    assert launcher.kill(record).state is DriverState.FAILED
    assert still_running(bystander)
    # after a reboot, whatever has the id is another process too
    rebooted = record.model_copy(update={"start_ticks": now.start_ticks, "boot_id": "another-boot"})
    assert "rebooted" in launcher.status(rebooted).detail
    launcher.kill(rebooted)
    assert still_running(bystander)


def test_a_gone_driver_whose_exit_was_recorded_stays_finished_when_its_pid_is_reused(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    now = identify(bystander.pid)
    assert now.start_ticks is not None
    (tmp_path / EXIT_FILE).write_text("0\n")
    record = record_for(bystander.pid, tmp_path, host=now.host, boot_id=now.boot_id, start_ticks=1)
    assert LocalProcessLauncher().status(record).state is DriverState.FINISHED


def test_a_driver_on_another_host_is_unknown_here_and_never_signalled(
    tmp_path: Path, bystander: subprocess.Popen[bytes]
) -> None:
    now = identify(bystander.pid)
    record = record_for(
        bystander.pid, tmp_path, host="elsewhere", boot_id="other", start_ticks=now.start_ticks
    )
    launcher = LocalProcessLauncher()
    status = launcher.status(record)
    assert status.state is DriverState.UNKNOWN
    assert "runs on host elsewhere" in status.detail and "cannot see it" in status.detail
    launcher.stop_gracefully(record, timeout=1)
    launcher.kill(record)
    assert still_running(bystander)
    # an older record without the new fields: its host is read from its fence owner prefix
    legacy = record_for(bystander.pid, tmp_path, fence_owner_prefix=f"elsewhere:{bystander.pid}:g1:attempt-")
    assert launcher.status(legacy).state is DriverState.UNKNOWN
    launcher.kill(legacy)
    assert still_running(bystander)


def test_the_recorded_process_itself_is_running_and_is_killed(tmp_path: Path) -> None:
    """The other side: a record that matches is RUNNING, and kill stops its whole group; an older
    record (the id only) still works the legacy way."""
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        found = identify(process.pid)
        record = record_for(process.pid, tmp_path, **found.model_dump())
        launcher = LocalProcessLauncher()
        assert launcher.status(record).state is DriverState.RUNNING
        assert launcher.status(record_for(process.pid, tmp_path)).state is DriverState.RUNNING
        assert launcher.kill(record).state is DriverState.FAILED
        assert process.poll() is not None
    finally:
        process.kill()
        process.wait()
