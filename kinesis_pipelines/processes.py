"""Starting and stopping the processes this package owns: each in its own process group.

A process id alone does not name a process: the kernel reuses it, and it means nothing on another
host or after a reboot. A process this package records is also known by its host, the boot it
runs in and its start time (`ProcessIdentity`); nothing is signalled unless all three match.

A group's output goes to a log file: appended to it directly, or, with a `LogRotation`, through a
pipe to a rotator process (logfiles.py) that keeps the file within a size and a number of rotated
files. The rotator runs in a session of its own, outlives whoever started the group, and exits when
the group's last process closes its output."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict, Field

from kinesis_pipelines.logfiles import rotator_argv

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


class ProcessIdentity(BaseModel):
    """Who a process is beyond its id. Empty parts are unknown (a record from before they were
    kept) and are not compared."""

    model_config = ConfigDict(frozen=True)

    host: str = ""
    boot_id: str = ""
    start_ticks: int | None = None  # clock ticks after boot (field 22 of /proc/<pid>/stat)


class Sameness(str, Enum):
    SAME = "same"  # the recorded process runs (as far as the recorded parts tell)
    GONE = "gone"  # no process has that id now: the recorded one ended
    REUSED = "reused"  # another process has that id now: the recorded one ended
    REBOOTED = "rebooted"  # this host booted since: the recorded process ended with the old boot
    OTHER_HOST = "other_host"  # it runs, or ran, on another host: this host cannot tell


def this_host() -> str:
    return socket.gethostname()


def boot_id() -> str:
    """This boot's id ("" where the kernel does not say)."""
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot; None if no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # the fields after the command's closing parenthesis start at field 3
            return int(stat.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def identify(pid: int) -> ProcessIdentity:
    """The identity of the process that has `pid` now, on this host."""
    return ProcessIdentity(host=this_host(), boot_id=boot_id(), start_ticks=start_ticks(pid))


def compare(recorded: ProcessIdentity, now: ProcessIdentity) -> Sameness:
    """Pure: whether the process recorded as `recorded` is the one found as `now` (this host's
    view of the same process id; `now.start_ticks` None when no process has it)."""
    if recorded.host and now.host and recorded.host != now.host:
        return Sameness.OTHER_HOST
    if recorded.boot_id and now.boot_id and recorded.boot_id != now.boot_id:
        return Sameness.REBOOTED
    if now.start_ticks is None:
        return Sameness.GONE
    if recorded.start_ticks is not None and recorded.start_ticks != now.start_ticks:
        return Sameness.REUSED
    return Sameness.SAME


def sameness(pid: int, recorded: ProcessIdentity | None) -> Sameness:
    """Whether `pid` on this host is still the process recorded as `recorded` (None: a record
    that knows nothing but the id, trusted as before)."""
    found = identify(pid)
    return compare(recorded or ProcessIdentity(), found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LogRotation(BaseModel):
    """Keep a log within `max_bytes` per file and `backups` rotated files (LOG.1 ... LOG.N)."""

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(ge=1)
    backups: int = Field(ge=1)


def start_group(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    rotation: LogRotation | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` as the leader of a new session, its output appended to `log_path` (through a
    rotator when `rotation` is given)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if rotation is None:
        with open(log_path, "ab") as log:
            return _start_leader(argv, log, env, cwd)
    read_end, write_end = os.pipe()  # not inherited by anything but the two processes below
    try:
        with open(log_path, "ab") as rotator_errors:  # a rotator that cannot start says so there
            subprocess.Popen(
                rotator_argv(sys.executable, log_path, rotation.max_bytes, rotation.backups),
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=rotator_errors,
                start_new_session=True,
            )
        return _start_leader(argv, write_end, env, cwd)
    finally:  # the rotator sees the end of its input once the group's last process has exited
        os.close(read_end)
        os.close(write_end)


def _start_leader(
    argv: Sequence[str], output: int | IO[bytes], env: Mapping[str, str] | None, cwd: Path | None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv),
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )


def alive(pid: int, recorded: ProcessIdentity | None = None) -> bool:
    """True while `pid` runs and is the process recorded as `recorded` (a zombie child counts as
    gone; so does a process that has the id now but is another one)."""
    if recorded is not None and sameness(pid, recorded) is not Sameness.SAME:
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def may_signal(pid: int, recorded: ProcessIdentity | None) -> bool:
    """Whether signalling the group led by `pid` reaches only the recorded process's group: it is
    that process, or it ended (a process id stays taken while its group has members, so what is
    left of the group is the recorded one's). Never on another host or after a reboot."""
    return sameness(pid, recorded) in (Sameness.SAME, Sameness.GONE)


def stop_group(pid: int, grace_seconds: float = 5.0, recorded: ProcessIdentity | None = None) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL whatever is left after the grace.
    With `recorded`, each signal goes only while `pid` is still that process (or its group's
    leftovers): a process that took the id over is never signalled."""
    if not _signal_group(pid, signal.SIGTERM, recorded):
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not alive(pid, recorded) and not _group_alive(pid):
            return
        time.sleep(0.1)
    if not _signal_group(pid, signal.SIGKILL, recorded):
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid, recorded):
        time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals, recorded: ProcessIdentity | None = None) -> bool:
    """Signal the group (or the process, if it leads none); False, and nothing sent, when `pid`
    is no longer the recorded process."""
    if recorded is not None and not may_signal(pid, recorded):
        return False
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().split(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for_port(
    port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, host: str = "127.0.0.1"
) -> bool:
    """True once host:port accepts connections; False on timeout or if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False
