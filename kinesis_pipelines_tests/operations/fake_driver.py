"""A stand-in for the Spark driver in the race between two orchestrators (test_two_orchestrators):
it takes the pipeline's fence with the real fence code, reports itself in its control directory as
a driver does (app/control.py's info file), renews the fence while it runs, and on its stop marker
releases the fence and exits 0. Its exit code goes to a file, so any process can tell a clean stop
from a kill.

    python -m kinesis_pipelines_tests.operations.fake_driver CONTROL_DIR TABLE APPLICATION GENERATION
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import boto3

from kinesis_pipelines.app import control
from kinesis_pipelines.aws import fence

EXIT_FILE = "exit-code"
TTL_SECONDS = 10.0


def main(control_dir: Path, table: str, application: str, generation: str) -> int:
    client = boto3.client(
        "dynamodb",
        endpoint_url=os.environ["KP_FAKE_DYNAMODB"],
        region_name="us-east-1",
        verify=os.environ.get("AWS_CA_BUNDLE") or None,
    )
    owner = f"{socket.gethostname()}:{os.getpid()}:{generation}"
    try:
        held = fence.take(client, table, application, owner, ttl=TTL_SECONDS)
    except fence.FenceHeld as exc:
        print(exc, flush=True)
        return fence.FENCED_EXIT_CODE
    info = control.DriverInfo(
        application_id=f"fake-{os.getpid()}",
        generation=generation,
        receivers=1,
        recovered_from_checkpoint=False,
        fence_owner=owner,
        started_at=time.time(),
        pid=os.getpid(),
    )
    (control_dir / control.INFO_FILE).write_text(info.model_dump_json())
    renewed = time.monotonic()
    while not (control_dir / control.STOP_MARKER).exists():
        if time.monotonic() - renewed > TTL_SECONDS / 5:
            try:
                held = fence.renew(client, table, application, held)
            except fence.FenceHeld as exc:
                print(exc, flush=True)
                return fence.FENCED_EXIT_CODE
            renewed = time.monotonic()
        time.sleep(0.1)
    fence.release(client, table, application, owner)
    return 0


if __name__ == "__main__":
    directory = Path(sys.argv[1])
    code = main(directory, *sys.argv[2:5])
    (directory / EXIT_FILE).write_text(f"{code}\n")
    sys.exit(code)
