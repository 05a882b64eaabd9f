"""deploy/systemd's units run the way systemd runs them, for the tests: each service started with
its unit's own command line as a session leader in a cgroup of its own (cgroup v2, where this host
lets a test make one), and stopped the way the unit's KillMode, KillSignal and TimeoutStopSec
make systemd stop it:

- control-group: KillSignal to every process of the cgroup; once the main process has exited,
  KillSignal again to what is left; SIGKILL to whatever outlives TimeoutStopSec;
- mixed: KillSignal to the main process only; once it has exited (or after TimeoutStopSec,
  with SIGKILL), SIGKILL to every process left in the cgroup;
- process: KillSignal to the main process only, SIGKILL to it after TimeoutStopSec; the rest of
  the cgroup is left alone, and stays in the cgroup when the service starts again.

Without a writable cgroup v2 the cgroup is approximated by the main process's descendants at
the time of the stop (`Cgroup.mode` says which): a process whose parent ended before the stop
escapes the approximation, as it never escapes a cgroup."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = DEPLOY / "systemd"
DEPLOYED_ROOT = "/opt/kinesis-pipelines"  # where deploy/README.md installs the repository
SYSTEMD_DEFAULT_TIMEOUT_STOP_SECONDS = 90.0  # DefaultTimeoutStopSec
KILL_MODES = ("control-group", "mixed", "process", "none")
_SPAN_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}


@dataclass(frozen=True)
class Unit:
    """One unit file: every key of every section, in order (a key may repeat, as ExecStartPost=
    and EnvironmentFile= do)."""

    path: Path
    entries: tuple[tuple[str, str, str], ...]  # (section, key, value)

    def values(self, key: str, section: str = "Service") -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def value(self, key: str, default: str | None = None, section: str = "Service") -> str | None:
        found = self.values(key, section)
        return found[-1] if found else default  # systemd: the last assignment wins

    @property
    def exec_start(self) -> str:
        found = self.values("ExecStart")
        assert len(found) == 1, f"{self.path.name}: a long-running service has one ExecStart=, found {found}"
        return found[0]

    @property
    def environment(self) -> dict[str, str]:
        """Environment= assignments (EnvironmentFile= is the test's to provide)."""
        pairs = [item.partition("=") for value in self.values("Environment") for item in shlex.split(value)]
        return {key: value for key, _, value in pairs}

    @property
    def kill_mode(self) -> str:
        mode = self.value("KillMode", "control-group") or "control-group"
        assert mode in KILL_MODES, f"{self.path.name}: KillMode={mode}; systemd knows {KILL_MODES}"
        return mode

    @property
    def kill_signal(self) -> signal.Signals:
        name = self.value("KillSignal", "SIGTERM") or "SIGTERM"
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]

    @property
    def timeout_stop_seconds(self) -> float:
        span = self.value("TimeoutStopSec") or self.value("TimeoutSec")
        return SYSTEMD_DEFAULT_TIMEOUT_STOP_SECONDS if span is None else time_span(span)


def read_unit(path: Path) -> Unit:
    """Parse a unit file as systemd does for what these tests need: sections, `Key=value` lines,
    comments (# and ;) and lines continued with a trailing backslash."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a Key=value line: {line!r}"
        entries.append((section, key.strip(), value.strip()))
    return Unit(path=path, entries=tuple(entries))


def time_span(text: str) -> float:
    """systemd's time span ("90", "90s", "1min 30s", "500ms", "infinity") in seconds."""
    text = text.strip()
    if text == "infinity":
        return float("inf")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text):
        assert unit in _SPAN_UNITS, f"time span {text!r}: unknown unit {unit!r}"
        total += float(number) * _SPAN_UNITS[unit]
    return total


def command_line(line: str, substitutions: Mapping[str, str]) -> list[str]:
    """A unit's command line as argv, each (regular expression) substitution applied to the whole
    line first (systemd's own quoting, as these units use it, is the shell's)."""
    for pattern, replacement in substitutions.items():
        line = re.sub(pattern, replacement, line)
    return shlex.split(line)


def cgroup_v2_root() -> Path | None:
    """Where this process's cgroup v2 is, if this host lets it make cgroups there; else None."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    mount = next((line.split()[1] for line in mounts if line.split()[2] == "cgroup2"), None)
    own = next(
        (line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line[:3] == "0::"), None
    )
    if mount is None or own is None:
        return None
    base = Path(mount) / own.lstrip("/")
    probe = base / f"kp-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return None
    return base


@dataclass
class Cgroup:
    """The processes of one service: its cgroup v2 (`mode` "cgroup"), or, where no cgroup can be
    made, the main process's descendants (`mode` "descendants")."""

    name: str
    path: Path | None  # None: approximated by descendants
    main_pids: list[int] = field(default_factory=list)  # every main process started in it
    known: set[int] = field(default_factory=set)  # descendants seen so far (their parents may end)

    @property
    def mode(self) -> str:
        return "cgroup" if self.path is not None else "descendants"

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """argv that first moves itself into the cgroup, then execs: nothing it starts is
        outside (no race between the start and a move made from outside)."""
        if self.path is None:
            return list(argv)
        procs = self.path / "cgroup.procs"
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(procs), *argv]

    def pids(self) -> list[int]:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            return []
        for main in self.main_pids:
            self.known.update([main, *descendants(main)])
        return sorted(pid for pid in self.known if _running(pid))

    def signal_all(self, sig: signal.Signals) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not [p for p in self.pids() if _running(p)]:
                return True
            time.sleep(0.1)
        return not [p for p in self.pids() if _running(p)]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` in the process tree now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextlib.contextmanager
def cgroups(names: Sequence[str]) -> Iterator[dict[str, Cgroup]]:
    """One cgroup per service name (or their approximation); at the end everything left in them
    is killed and the cgroups are removed."""
    root = cgroup_v2_root()
    parent = root / f"kp-tests-{os.getpid()}-{uuid.uuid4().hex[:6]}" if root is not None else None
    if parent is not None:
        parent.mkdir()
    groups = {}
    for name in names:
        path = parent / name if parent is not None else None
        if path is not None:
            path.mkdir()
        groups[name] = Cgroup(name, path)
    try:
        yield groups
    finally:
        for group in groups.values():
            group.signal_all(signal.SIGKILL)
            group.wait_empty(10)
            if group.path is not None:
                with contextlib.suppress(OSError):
                    group.path.rmdir()
        if parent is not None:
            with contextlib.suppress(OSError):
                parent.rmdir()


@dataclass
class UnitService:
    """One service of deploy/systemd, run as its unit says: `start` runs ExecStart= (then each
    ExecStartPost=, as systemd does before it calls the service started), `stop` signals what
    systemd would for the unit's KillMode."""

    unit: Unit
    cgroup: Cgroup
    substitutions: Mapping[str, str]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def name(self) -> str:
        return self.cgroup.name

    def start(self, ready_timeout: float = 300) -> None:
        argv = command_line(self.unit.exec_start, self.substitutions)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts + 1}: {shlex.join(argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.cgroup.wrap(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(self.env),
                cwd=self.cwd,
                start_new_session=True,  # systemd makes every service a session leader
            )
        self.cgroup.main_pids.append(self.process.pid)
        self.starts += 1
        for line in self.unit.values("ExecStartPost"):
            self.run_command(line, timeout=ready_timeout)

    def run_command(self, line: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """One of the unit's command lines, with the service's environment; must succeed."""
        argv = command_line(line, self.substitutions)
        done = subprocess.run(
            argv, env=dict(self.env), cwd=self.cwd, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, (
            f"{self.unit.path.name}: {shlex.join(argv)} exited {done.returncode}: {done.stdout}{done.stderr}"
            f"\n{self.log_path.read_text()[-3000:]}"
        )
        return done

    def stop(self, timeout_seconds: float | None = None) -> dict[str, object]:
        """Stop as systemd would for this unit; says what was signalled and what is left.
        `timeout_seconds` stands in for the unit's TimeoutStopSec (a fixture's teardown, which
        tests nothing of the stop, need not wait out systemd's 90 s for a slow exit)."""
        process = self.process
        assert process is not None, f"{self.name} is not running"
        mode, sig, timeout = self.unit.kill_mode, self.unit.kill_signal, self.unit.timeout_stop_seconds
        if timeout_seconds is not None:
            timeout = timeout_seconds
        before = self.cgroup.pids()
        if mode == "control-group":
            self.cgroup.signal_all(sig)
            self.cgroup.signal_all(signal.SIGCONT)
        elif mode in ("mixed", "process"):
            _signal(process.pid, sig)
            _signal(process.pid, signal.SIGCONT)
        killed_main = False
        try:
            process.wait(timeout=None if timeout == float("inf") else timeout)
        except subprocess.TimeoutExpired:
            killed_main = True
            if mode == "process":
                _signal(process.pid, signal.SIGKILL)
            elif mode != "none":
                self.cgroup.signal_all(signal.SIGKILL)
            process.wait(timeout=10)
        # the main process has exited: the final stage
        if mode == "mixed":
            self.cgroup.signal_all(signal.SIGKILL)
            self.cgroup.wait_empty(10)
        elif mode == "control-group":
            self.cgroup.signal_all(sig)
            if not self.cgroup.wait_empty(timeout):
                self.cgroup.signal_all(signal.SIGKILL)
                self.cgroup.wait_empty(10)
        self.process = None
        return {
            "service": self.name,
            "kill_mode": mode,
            "emulated_on": self.cgroup.mode,
            "processes_before": len(before),
            "main_killed_after_timeout": killed_main,
            "left": self.cgroup.pids(),
        }

    def restart(self, ready_timeout: float = 300) -> dict[str, object]:
        stopped = self.stop()
        self.start(ready_timeout)
        return stopped


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
