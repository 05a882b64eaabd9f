"""deploy/ as an operator installs it, checked without starting anything: systemd accepts every
unit, every command a unit runs exists in this venv and takes its arguments, and every variable
the production instance reads is set by one of the environment files (the secret ones only by the
root-only secrets file). e2e/test_production_instance.py runs the services themselves; the
emulation of systemd's stop it relies on is checked here, on `sleep`."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kinesis_pipelines_tests.support.systemd_units import (
    DEPLOY,
    DEPLOYED_ROOT,
    UNITS,
    Cgroup,
    UnitService,
    cgroups,
    read_unit,
)

UNIT_FILES = sorted(UNITS.glob("*.service")) + sorted(UNITS.glob("*.timer"))
VENV_BIN = Path(sys.executable).parent
DEPLOYED_BIN = f"{DEPLOYED_ROOT}/.venv/bin/"
SECRETS = {"DAGSTER_PG_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def installed_copy(unit: Path, into: Path) -> Path:
    """The unit as it would be on a host where this checkout and venv are installed, with its
    environment files in place."""
    text = unit.read_text().replace(DEPLOYED_BIN, f"{VENV_BIN}/").replace(DEPLOYED_ROOT, str(DEPLOY.parent))
    for path in re.findall(r"^EnvironmentFile=-?(\S+)$", text, flags=re.MULTILINE):
        local = into / "etc" / Path(path).name
        local.parent.mkdir(exist_ok=True)
        local.write_text("")
        text = text.replace(path, str(local))
    copy = into / unit.name
    copy.write_text(text)
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    copies = [str(installed_copy(unit, tmp_path)) for unit in UNIT_FILES]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *copies], capture_output=True, text=True)
    # systemd-analyze exits 0 on an unknown key or a bad value, and says so on stderr
    assert (done.returncode, done.stderr.strip()) == (0, ""), done.stderr


def venv_commands(line: str) -> list[list[str]]:
    """The programs of the venv a command line runs (also inside `/bin/sh -c '...'`), each with
    its subcommands: the words before the first option."""
    words = shlex.split(line)
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(words[2])
    found = []
    for i, word in enumerate(words):
        if word.startswith(DEPLOYED_BIN):
            rest = words[i + 1 :]
            options = [j for j, w in enumerate(rest) if w.startswith("-")]
            found.append([word.removeprefix(DEPLOYED_BIN), *rest[: options[0] if options else len(rest)]])
    return found


def unit_commands() -> dict[str, str]:
    """Each venv command the units run (program and subcommands), with the first unit that runs it."""
    found: dict[str, str] = {}
    for path in UNIT_FILES:
        for key in ("ExecStartPre", "ExecStart", "ExecStartPost"):
            for line in read_unit(path).values(key):
                for command in venv_commands(line):
                    found.setdefault(" ".join(command), path.name)
    return found


UNIT_COMMANDS = [pytest.param(unit, command.split(), id=command) for command, unit in unit_commands().items()]


@pytest.mark.parametrize(("unit", "command"), UNIT_COMMANDS)
def test_every_command_a_unit_runs_is_installed(unit: str, command: list[str]) -> None:
    program = VENV_BIN / command[0]
    assert program.exists(), f"{unit} runs {command[0]}, which this venv does not have"
    done = subprocess.run([str(program), *command[1:], "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{unit}: {' '.join(command)} --help: {done.stderr[-1000:]}"


def env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"{path.name}:{number}: not KEY=value"
            values[key] = value
    return values


def test_the_environment_files_set_what_the_instance_reads_and_keep_secrets_apart() -> None:
    settings = env_file(DEPLOY / "kinesis-pipelines.env")
    secrets = env_file(DEPLOY / "secrets.env")
    read = set(re.findall(r"\{\s*env:\s*([A-Z0-9_]+)\s*\}", (DEPLOY / "dagster.yaml").read_text()))
    assert read, "deploy/dagster.yaml reads no variable: this test no longer looks at the right thing"
    assert read <= set(settings) | set(secrets), (
        f"set by no environment file: {read - set(settings) - set(secrets)}"
    )
    assert not SECRETS & set(settings), "a secret in the world-readable settings file"
    assert set(secrets) <= SECRETS, f"not secrets, belong in kinesis-pipelines.env: {set(secrets) - SECRETS}"
    for unit in UNITS.glob("*.service"):
        assert read_unit(unit).values("EnvironmentFile") == [
            "/etc/kinesis-pipelines/kinesis-pipelines.env",
            "/etc/kinesis-pipelines/secrets.env",
        ], f"{unit.name} does not load both environment files, settings first"


# --- the restart emulation the e2e test relies on (support/systemd_units.py) -------------------


@pytest.mark.parametrize("emulation", ["cgroup", "descendants"])
@pytest.mark.parametrize(
    ("kill_mode", "survivor_left"), [("process", True), ("mixed", False), ("control-group", False)]
)
def test_a_restart_spares_a_session_leader_only_under_kill_mode_process(
    tmp_path: Path, kill_mode: str, survivor_left: bool, emulation: str
) -> None:
    """A service whose child leads a session of its own, as a driver does: a stop by KillMode
    leaves that child running under `process` only."""
    unit_file = tmp_path / "demo.service"
    unit_file.write_text(
        "[Service]\n"
        "ExecStart=/bin/sh -c 'setsid sleep 300 & exec sleep 300'\n"
        f"KillMode={kill_mode}\n"
        "TimeoutStopSec=5\n"
    )
    with cgroups(["demo"]) as groups:
        group = groups["demo"]
        if emulation == "descendants":
            group = Cgroup("demo", None)
        elif group.mode != "cgroup":
            pytest.skip("no writable cgroup v2 on this host")
        service = UnitService(
            read_unit(unit_file), group, {}, dict(os.environ), tmp_path, tmp_path / "demo.log"
        )
        service.start()
        try:
            deadline = time.monotonic() + 10
            while len(group.pids()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            main = service.process
            assert main is not None and len(group.pids()) == 2, group.pids()
            child = next(pid for pid in group.pids() if pid != main.pid)
            stopped = service.stop()
            assert stopped["left"] == ([child] if survivor_left else []), stopped
        finally:
            group.signal_all(signal.SIGKILL)
