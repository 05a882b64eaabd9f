"""After a deploy: watching the receivers' KCL workers take the shards' leases, so a person sees
what the job is waiting for until it reads.

KCL 1 (the connector of Spark 3.x to 4.1) sleeps its `parentShardPollIntervalMillis` (10 s; the
connector offers no setting for it) after its worker has taken its first leases and before its
first read, so a fresh driver reads its first record about that long after the leases are taken.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.operations.backends import Backends, Progress, quiet

KCL_FIRST_READ_DELAY_SECONDS = 10.0


class LeasesTaken(BaseModel):
    """When every open shard had an owner, and by how many workers."""

    model_config = ConfigDict(frozen=True)

    shards: int
    owners: int
    seconds: float  # from the call to all leases owned
    taken_at: float  # epoch seconds
    first_read_expected_in_seconds: float = KCL_FIRST_READ_DELAY_SECONDS


def wait_for_leases(
    backends: Backends,
    open_shards: list[str],
    since: dict[str, int] | None = None,
    progress: Progress = quiet,
    timeout: float = 120.0,
    poll_seconds: float = 0.5,
) -> LeasesTaken:
    """Wait until every open shard's lease has an owner whose counter moved past `since` (the
    counters before the deploy, so a dead driver's stale leases do not count), reporting as it goes.
    """
    started = time.monotonic()
    wanted = set(open_shards)
    before = since or {}
    next_note = 0.0
    while True:
        leases = {lease.shard_id: lease for lease in backends.app_table.leases()}
        taken = {
            shard
            for shard in wanted
            if (lease := leases.get(shard)) is not None
            and lease.owner
            and lease.counter > before.get(shard, -1)
        }
        owners = {leases[shard].owner for shard in taken}
        elapsed = time.monotonic() - started
        if taken == wanted:
            progress(
                f"{backends.spec.name}: {len(owners)} receiver(s) hold all {len(wanted)} shard lease(s) "
                f"after {elapsed:.1f} s; KCL 1 reads about {KCL_FIRST_READ_DELAY_SECONDS:.0f} s after "
                "taking its leases (a fixed wait in KCL that the connector does not expose)"
            )
            return LeasesTaken(
                shards=len(wanted), owners=len(owners), seconds=round(elapsed, 2), taken_at=time.time()
            )
        if elapsed > timeout:
            raise TimeoutError(
                f"{backends.spec.name}: after {timeout:.0f} s, {len(taken)} of {len(wanted)} shard "
                "lease(s) have an owner; are the receivers running (see the driver log)?"
            )
        if time.monotonic() >= next_note:
            progress(
                f"{backends.spec.name}: receivers starting: {len(taken)} of {len(wanted)} shard "
                f"lease(s) taken ({elapsed:.0f} s)"
            )
            next_note = time.monotonic() + 3
        time.sleep(poll_seconds)


def wait_after_deploy(
    backends: Backends,
    before: dict[str, int],
    action: str,
    open_shards: list[str] | None = None,
    progress: Progress = quiet,
) -> LeasesTaken | str | None:
    """After a deploy that started a driver (`action` is not "unchanged"): wait for its receivers
    to take every open shard's lease (`open_shards`, else read from the stream), for as long as
    the spec gives a new driver to start (`supervision.startup_grace_seconds`). The leases taken;
    a warning if they were not in time (the driver runs on, and the supervisor judges it); None
    when nothing was started."""
    if action == "unchanged":
        return None
    try:
        return wait_for_leases(
            backends,
            backends.stream.open_shard_ids() if open_shards is None else open_shards,
            before,
            progress=progress,
            timeout=backends.spec.supervision.startup_grace_seconds,
        )
    except TimeoutError as exc:
        return str(exc)


def lease_counters(backends: Backends) -> dict[str, int]:
    """Each shard's lease counter now: the `since` for `wait_for_leases`."""
    return {lease.shard_id: lease.counter for lease in backends.app_table.leases()}
