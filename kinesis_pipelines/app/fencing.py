"""The driver's side of the fence (aws/fence.py): who this driver is on it, taking it, and
keeping it while the job runs, or stopping.

A driver holds the fence only while it can prove it: `FenceKeeper` times renewals on this host's
monotonic clock from the moment each successful renewal was sent. Once it has not renewed for
`LOST_FRACTION` of the TTL, it sets `lost` (the application stops its context at once, not
gracefully) and, should the process still be alive `HARD_EXIT_FRACTION` of the TTL after that
renewal, ends it. A taker waits more than the whole TTL from when it first saw that renewal, so
the holder has stopped before anyone else can take over. The fence client has short timeouts and
at most two attempts, and a renewal runs in its own thread: a blocked call never holds the
keeper past its deadline."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinesis_pipelines.app import control, yarn_attempts
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.connection import make_client
from kinesis_pipelines.aws.handover import clear_dead_driver

# YARN names the ApplicationMaster's container container_[e<epoch>_]<cluster>_<app>_<attempt>_<n>
YARN_CONTAINER = re.compile(r"^container_(?:e\d+_)?(\d+)_(\d+)_(\d+)_\d+$")
# Internal settings a test (or an operator with a reason) sets in the driver's environment
TTL_ENV = "KP_FENCE_TTL_SECONDS"  # default fence.FENCE_TTL_SECONDS
ENDPOINT_ENV = "KP_FENCE_DYNAMODB_ENDPOINT"  # the fence's DynamoDB only (e.g. through a proxy)
LOST_FRACTION = 2 / 3  # not renewed for this much of the TTL: stop at once
HARD_EXIT_FRACTION = 5 / 6  # still alive this far into the TTL: end the process
RENEW_FRACTION = 1 / 6  # renew this often while all is well
RETRY_FRACTION = 1 / 30  # and this soon after a failed renewal


def fence_identity(environ: dict[str, str], generation: str) -> tuple[str, str | None]:
    """This driver's fence owner, and the owner prefix of earlier attempts it may take over from
    (those of its YARN application, once the ResourceManager says they ended).

    A launcher that relaunches drivers names the owner (KP_FENCE_OWNER). In YARN's
    ApplicationMaster the owner is the application and its attempt."""
    if environ.get(control.FENCE_OWNER_ENV):
        return environ[control.FENCE_OWNER_ENV], None
    container = YARN_CONTAINER.match(environ.get("CONTAINER_ID", ""))
    if container:
        cluster, app, attempt = container.groups()
        application = f"application_{cluster}_{app}"
        return f"yarn:{application}:{int(attempt)}:{generation}", f"yarn:{application}:"
    return f"{socket.gethostname()}:{os.getpid()}:{generation}", None


def fence_ttl(environ: dict[str, str]) -> float:
    return float(environ.get(TTL_ENV) or fence.FENCE_TTL_SECONDS)


def fence_client(config: DriverConfig, environ: dict[str, str]) -> Any:
    """The DynamoDB client of the fence alone: short timeouts, at most two attempts."""
    connection = config.connection
    if environ.get(ENDPOINT_ENV):
        endpoints = {**connection.endpoints, "dynamodb": environ[ENDPOINT_ENV]}
        connection = connection.model_copy(update={"endpoints": endpoints})
    return make_client("dynamodb", connection, component="driver", quick=True)


def take_fence(
    client: Any,
    config: DriverConfig,
    table: str,
    owner: str,
    earlier: str | None,
    *,
    environ: dict[str, str] | None = None,
    attempt_ended: Callable[[str], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> fence.FenceState:
    """Take the fence (FenceHeld if its holder is alive) and return it: `.token` is this
    driver's fencing token. An earlier attempt of the same YARN application is taken over at
    once, with its KCL leases released, only once the ResourceManager says it ended."""
    environ = dict(os.environ) if environ is None else environ
    ended = attempt_ended or (lambda holder: yarn_attempts.owner_attempt_ended(holder, environ, Path.cwd()))
    broken: list[str] = []

    def dead_attempt(state: fence.FenceState) -> bool:
        holder = state.owner or ""
        if earlier and holder.startswith(earlier) and holder != owner and ended(holder):
            broken.append(holder)
            return True
        return False

    held = fence.take(client, table, config.application_name, owner,
                      ttl=fence_ttl(environ), may_break=dead_attempt, clock=clock, sleep=sleep)  # fmt: skip
    if broken:
        released = clear_dead_driver(client, None, config.application_name, None)
        print(f"took over from the ended attempt {broken[-1]}: released {released} KCL lease(s)", flush=True)
    taken_at = held.expires_at - held.ttl_seconds
    print(f"kinesis-pipelines: took the fence as {owner} at {taken_at:.3f}: token {held.token}", flush=True)
    return held


@dataclass
class RenewalClock:
    """Pure: when the holder must renew, and when it must consider the fence lost, from the
    monotonic time its last successful renewal was sent."""

    ttl: float
    renewed_at: float

    @property
    def deadline(self) -> float:
        return self.renewed_at + self.ttl * LOST_FRACTION

    def lost(self, now: float) -> bool:
        return now >= self.deadline

    def delay(self, now: float, failed: bool) -> float:
        every = self.ttl * (RETRY_FRACTION if failed else RENEW_FRACTION)
        return max(0.0, min(every, self.deadline - now))


def _hard_exit() -> None:
    print("kinesis-pipelines: the fence is lost and the driver has not stopped: exiting now", flush=True)
    os._exit(fence.FENCED_EXIT_CODE)


class FenceKeeper(threading.Thread):
    """Renews the driver's fence. `lost` is set when another driver took it or when it has not
    been renewed for LOST_FRACTION of the TTL: the driver must then stop at once. `token` is the
    fencing token of this holder; `holding()` says, on the spot, whether the fence is still this
    driver's to write under."""

    def __init__(
        self,
        client: Any,
        config: DriverConfig,
        table: str,
        held: fence.FenceState,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
        on_deadline: Callable[[], None] = _hard_exit,
    ) -> None:
        super().__init__(daemon=True, name="kinesis-pipelines-fence")
        self.client, self.config, self.table, self.held = client, config, table, held
        self.owner = held.owner or ""
        self.lost = threading.Event()
        self.done = threading.Event()
        self.clock, self.on_deadline = clock, on_deadline
        self.wait = wait or self.done.wait
        self.schedule = RenewalClock(held.ttl_seconds, held.sent_at or clock())

    @property
    def token(self) -> int:
        return self.held.token

    def holding(self) -> bool:
        return not self.lost.is_set() and not self.schedule.lost(self.clock())

    def run(self) -> None:
        failed = False
        while True:
            now = self.clock()
            if self.schedule.lost(now):
                since = now - self.schedule.renewed_at
                return self._lose(
                    f"the fence was not renewed for {since:.1f} s (TTL {self.schedule.ttl:.0f} s)"
                )
            if self.wait(self.schedule.delay(now, failed)):
                return
            outcome = self._renew_within(self.schedule.deadline - self.clock())
            if isinstance(outcome, fence.FenceHeld):
                return self._lose(str(outcome))
            failed = outcome is not None
            if isinstance(outcome, Exception):
                print(f"kinesis-pipelines: fence renewal failed, retrying: {outcome}", flush=True)

    def _renew_within(self, timeout: float) -> Exception | str | None:
        """One renewal in its own thread, waited for at most `timeout` s: None when renewed,
        the error it raised, or "blocked" when it did not answer in time."""
        result: list[Exception | None] = []

        def renew() -> None:
            sent = self.clock()
            try:
                held = fence.renew(self.client, self.table, self.config.application_name, self.held)
            except Exception as exc:
                result.append(exc)
                return
            self.held = held
            self.schedule.renewed_at = max(self.schedule.renewed_at, sent)
            result.append(None)

        worker = threading.Thread(target=renew, daemon=True, name="kinesis-pipelines-fence-renewal")
        worker.start()
        worker.join(max(0.0, timeout))
        return result[0] if result else "blocked"

    def _lose(self, reason: str) -> None:
        print(f"kinesis-pipelines: fence lost ({reason}): stopping the driver at once", flush=True)
        self.lost.set()
        grace = self.schedule.ttl * (HARD_EXIT_FRACTION - LOST_FRACTION)
        timer = threading.Timer(grace, self.on_deadline)
        timer.daemon = True
        timer.start()


class FenceLost(Exception):
    """This driver no longer holds the fence: it must not publish anything."""


# The keeper of this driver process, for the sink: a batch is published only while it holds the
# fence, and under its token (app/sinks.py). None without a fence table.
_KEEPER: list[FenceKeeper] = []


def register_keeper(keeper: FenceKeeper) -> None:
    _KEEPER[:] = [keeper]


def publishing_token() -> int | None:
    """The fencing token to publish under; FenceLost when this driver no longer holds the fence;
    None when the job runs without one."""
    if not _KEEPER:
        return None
    keeper = _KEEPER[0]
    if not keeper.holding():
        raise FenceLost(
            f"{keeper.owner} no longer holds the fence of {keeper.config.application_name}: "
            "not publishing (another driver may have taken over)"
        )
    return keeper.token
