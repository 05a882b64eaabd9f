"""The driver's side of the fence (aws/fence.py): who this driver is on it, taking it (from an
earlier attempt of the same YARN application at once), and keeping it while the job runs."""

from __future__ import annotations

import os
import re
import socket
import threading
from typing import Any

from kinesis_pipelines.app import control
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.handover import clear_dead_driver

# YARN names the ApplicationMaster's container container_[e<epoch>_]<cluster>_<app>_<attempt>_<n>
YARN_CONTAINER = re.compile(r"^container_(?:e\d+_)?(\d+)_(\d+)_(\d+)_\d+$")


def fence_identity(environ: dict[str, str], generation: str) -> tuple[str, str | None]:
    """This driver's fence owner, and the owner prefix of earlier attempts it may take over from.

    A launcher that relaunches drivers names the owner (KP_FENCE_OWNER). In YARN's
    ApplicationMaster the owner is the application and its attempt: YARN starts an attempt only
    once the one before it has ended, so an earlier attempt's fence is a dead driver's."""
    if environ.get(control.FENCE_OWNER_ENV):
        return environ[control.FENCE_OWNER_ENV], None
    container = YARN_CONTAINER.match(environ.get("CONTAINER_ID", ""))
    if container:
        cluster, app, attempt = container.groups()
        application = f"application_{cluster}_{app}"
        return f"yarn:{application}:{int(attempt)}:{generation}", f"yarn:{application}:"
    return f"{socket.gethostname()}:{os.getpid()}:{generation}", None


def take_fence(client: Any, config: DriverConfig, table: str, owner: str, earlier: str | None) -> None:
    """Take the fence; from an earlier attempt of the same YARN application at once, releasing
    its KCL leases too so the receivers need not wait out KCL's lease failover."""
    holder = fence.current(client, table, config.application_name)
    if earlier and holder and holder[0].startswith(earlier) and holder[0] != owner:
        released = clear_dead_driver(client, table, config.application_name, holder[0])
        print(f"took over from the dead attempt {holder[0]}: released {released} KCL lease(s)", flush=True)
    fence.acquire(client, table, config.application_name, owner)


class FenceKeeper(threading.Thread):
    """Renews the driver's fence; if another driver took it, this one must stop at once."""

    def __init__(self, client: Any, config: DriverConfig, table: str, owner: str) -> None:
        super().__init__(daemon=True, name="kinesis-pipelines-fence")
        self.client, self.config, self.table, self.owner = client, config, table, owner
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(fence.FENCE_TTL_SECONDS / 3):
            try:
                fence.acquire(self.client, self.table, self.config.application_name, self.owner)
            except fence.FenceHeld as exc:
                print(str(exc), flush=True)
                self.lost.set()
                return
            except Exception as exc:
                print(f"fence renewal failed, retrying: {exc}", flush=True)
