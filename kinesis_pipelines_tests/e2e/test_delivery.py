"""Each record once: a run of over 60 s with a receiver per shard, started on a backlog so KCL
moves leases between the receivers (as it does after every start) while records flow, puts every
record in the output exactly once. With 2 shards, every lease is then taken from its reader in the
middle of the stream, as KCL does when a worker dies or a new one joins: the new owner re-reads from
the last KCL checkpoint, and the delivery ledger must drop what was already delivered."""

from __future__ import annotations

import threading
import time

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.aws.dynamodb import release_leases
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, wait_all_out

pytestmark = pytest.mark.e2e

PRODUCE_SECONDS = 65
BACKLOG_SECONDS = 15
RATE = 60  # records/s: what the Kinesis emulator sustains beside Spark on a busy 2-core machine


class LeaseWatch(threading.Thread):
    """Polls the lease table, counting each time a shard's lease changes owner."""

    def __init__(self, backends: operations.Backends) -> None:
        super().__init__(daemon=True)
        self.backends = backends
        self.owners: dict[str, str | None] = {}
        self.moves = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for lease in self.backends.app_table.leases():
                before = self.owners.get(lease.shard_id)
                if before is not None and lease.owner != before:
                    self.moves += 1
                self.owners[lease.shard_id] = lease.owner


@pytest.mark.parametrize("shards", [2, 4])
def test_no_duplicates_without_faults(shards, local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = make_spec(f"once_{shards}", shards=shards, max_receivers=shards, executor_cores=shards + 1)
    cleanup_drivers.append(spec)
    backends = operations.backends_for(spec)
    backends.stream.ensure_stream()  # the stream exists from here on, for the backlog
    ids = unique_ids(f"once{shards}", (BACKLOG_SECONDS + PRODUCE_SECONDS) * RATE)
    backlog = BACKLOG_SECONDS * RATE
    put_all(backends.stream.client, spec.stream.name, ids[:backlog])
    deployment = operations.deploy(spec, backends)
    assert deployment.job.plan is not None and deployment.job.plan.receivers == shards
    watch = LeaseWatch(backends)
    watch.start()
    started = time.monotonic()
    put_all(backends.stream.client, spec.stream.name, ids[backlog:], rate_per_second=RATE)
    produced_seconds = time.monotonic() - started
    tally = wait_all_out(spec, ids)
    totals = read_totals(ledger_dir(spec))
    print(
        f"{shards} shards: {len(ids)} records ({backlog} before the start, then "
        f"{(len(ids) - backlog) / produced_seconds:.0f}/s for {produced_seconds:.0f} s); lease moves "
        f"seen {watch.moves}; ledger admitted {totals['admitted']}, dropped {totals['dropped']}; "
        f"{tally.model_dump()}"
    )
    assert produced_seconds >= 60
    assert (tally.lost, tally.unexpected, tally.duplicates) == (0, 0, 0), tally
    assert totals["admitted"] == len(ids)  # each record admitted once
    # the receivers ended up sharing the shards
    assert len({owner for owner in watch.owners.values() if owner}) == shards
    if shards == 2:
        moved_mid_stream(spec, backends, watch)
    watch.done.set()
    operations.stop(spec, backends)


def moved_mid_stream(spec, backends: operations.Backends, watch: LeaseWatch) -> None:
    """Every lease taken from its reader while records flow: re-reads the ledger must drop."""
    ids = unique_ids("moved", 20 * RATE)
    before = read_totals(ledger_dir(spec))["dropped"]
    producer = threading.Thread(
        target=put_all, args=(backends.stream.client, spec.stream.name, ids), kwargs={"rate_per_second": RATE}
    )
    producer.start()
    time.sleep(8)
    released = release_leases(backends.dynamodb, spec.app_table.application_name)
    producer.join()
    tally = wait_all_out(spec, ids)
    dropped = read_totals(ledger_dir(spec))["dropped"] - before
    print(f"{released} lease(s) taken mid-stream: dropped by the ledger {dropped}; {tally.model_dump()}")
    assert released == 2
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    # the new owners re-read from the last KCL checkpoint, behind what had been delivered
    assert dropped > 0
