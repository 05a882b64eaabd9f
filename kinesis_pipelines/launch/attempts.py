"""The local launcher's driver attempts: relaunch a driver whose process died, at once.

    python -m kinesis_pipelines.launch.attempts_main --control-dir DIR --max-attempts N -- spark-submit ...

This process leads the driver's process group. It runs spark-submit; when the driver exits with
an error (not 0, not fenced out by another driver, no stop asked for), it breaks the dead attempt's
fence, releases its KCL leases and starts the next attempt from the same job file, so the new
driver recovers from its Spark checkpoint seconds after the old one died, without waiting for
the supervisor to notice and a Dagster run to start. YARN does the same with application
attempts. Each attempt is recorded in the control directory (`attempts.json`), so the supervisor
counts them against the restart budget and treats a new attempt as a new driver. When the
attempts are spent, the driver's exit code goes to the exit file and the supervisor takes over.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from kinesis_pipelines.app import control
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.aws.connection import make_client
from kinesis_pipelines.aws.fence import FENCED_EXIT_CODE
from kinesis_pipelines.aws.handover import hand_over
from kinesis_pipelines.files import write_text_atomically

FIRST_BACKOFF_SECONDS = 1.0  # before the third attempt; the second starts at once


class Attempt(BaseModel):
    number: int
    started_at: float
    fence_owner: str
    ended_at: float | None = None
    exit_code: int | None = None


class Attempts(BaseModel):
    max_attempts: int
    attempts: list[Attempt] = []


def read_attempts(control_dir: Path) -> Attempts | None:
    try:
        return Attempts.model_validate_json((control_dir / control.ATTEMPTS_FILE).read_text())
    except (OSError, ValueError):
        return None


def relaunch_wanted(exit_code: int, stop_asked: bool, attempt: int, max_attempts: int) -> bool:
    """Pure: whether a driver that ended so gets another attempt here."""
    return exit_code != 0 and exit_code != FENCED_EXIT_CODE and not stop_asked and attempt < max_attempts


def fence_owner_prefix(host: str, runner_pid: int, generation: str) -> str:
    """What every attempt this runner starts is called on the fence, before its number."""
    return f"{host}:{runner_pid}:{generation}:attempt-"


def run(control_dir: Path, max_attempts: int, argv: list[str], exit_file: Path) -> int:
    config = DriverConfig.model_validate_json((control_dir / control.JOB_FILE).read_text())
    record = Attempts(max_attempts=max_attempts)
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    number = 0
    while True:
        number += 1
        owner = f"{fence_owner_prefix(socket.gethostname(), os.getpid(), config.generation)}{number}"
        attempt = Attempt(number=number, started_at=time.time(), fence_owner=owner)
        record.attempts.append(attempt)
        write_text_atomically(control_dir / control.ATTEMPTS_FILE, record.model_dump_json())
        child = subprocess.Popen(argv, env={**os.environ, control.FENCE_OWNER_ENV: owner})
        code = child.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: as a shell reports it
        attempt.ended_at, attempt.exit_code = time.time(), code
        write_text_atomically(control_dir / control.ATTEMPTS_FILE, record.model_dump_json())
        stop_asked = (control_dir / control.STOP_MARKER).exists()
        if not relaunch_wanted(code, stop_asked, number, max_attempts):
            exit_file.write_text(f"{code}\n")
            return code
        (control_dir / control.INFO_FILE).unlink(missing_ok=True)
        try:
            handover = hand_over(
                make_client("dynamodb", config.connection), config.fence_table, config.application_name, owner
            ).note
        except Exception as exc:  # the next attempt then waits out the fence and the leases
            handover = f"could not hand over the dead attempt's fence and leases: {exc}"
        backoff = 0.0 if number == 1 else FIRST_BACKOFF_SECONDS * 2 ** (number - 2)
        print(
            f"kinesis-pipelines: driver attempt {number} of {max_attempts} exited with code {code}; "
            f"{handover}; attempt {number + 1} in {backoff:.0f} s",
            flush=True,
        )
        time.sleep(backoff)


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--control-dir", required=True, type=Path)
    parser.add_argument("--max-attempts", required=True, type=int)
    parser.add_argument("--exit-file", required=True, type=Path)
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    parsed = parser.parse_args(args)
    argv = parsed.argv[1:] if parsed.argv[:1] == ["--"] else parsed.argv
    return run(parsed.control_dir, parsed.max_attempts, argv, parsed.exit_file)


if __name__ == "__main__":
    sys.exit(main())
