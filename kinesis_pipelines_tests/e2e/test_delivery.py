"""Each record once: a run of over 60 s with a receiver per shard, started on a backlog so KCL
moves leases between the receivers (as it does after every start) while records flow, puts every
record in the output exactly once. With 2 shards, every lease is then taken from its reader in the
middle of the stream with its checkpoint set behind what was delivered, as when KCL moves a lease
after a worker dies: the new owner re-reads, and the delivery ledger must drop all of it."""

from __future__ import annotations

import threading
import time

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.aws.dynamodb import LEASE_KEY
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.state import resolve_path
from kinesis_pipelines_tests.e2e.helpers import make_spec, wait_all_out, wait_for

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
        moved_mid_stream(spec, backends)
    watch.done.set()
    operations.stop(spec, backends)


def moved_mid_stream(spec, backends: operations.Backends) -> None:
    """Every lease taken from its reader while records flow, its checkpoint set back to records
    already delivered: the new owner must re-read them, and the ledger must drop every one.

    A plain lease move re-reads only what arrived since the last KCL checkpoint, which can be
    nothing at this rate; setting the checkpoint back makes the re-read certain."""
    ids = unique_ids("moved", 20 * RATE)
    client = backends.stream.client
    before = read_totals(ledger_dir(spec))["dropped"]
    first = put_all(client, spec.stream.name, ids[:100])  # the position to rewind to
    producer = threading.Thread(
        target=put_all, args=(client, spec.stream.name, ids[100:]), kwargs={"rate_per_second": RATE}
    )
    producer.start()
    sink = resolve_path(spec.job.sink.path)
    later = set(ids[100:])
    wait_for(lambda: sum(line in later for line in read_output(sink)) >= 100, 120, "later records out")
    rewound = rewind_leases(backends.dynamodb, spec.app_table.application_name, first.last_sequence_by_shard)
    producer.join()
    tally = wait_all_out(spec, ids)
    dropped = read_totals(ledger_dir(spec))["dropped"] - before
    print(
        f"{rewound} lease(s) taken and set back mid-stream: dropped by the ledger {dropped}; "
        f"{tally.model_dump()}"
    )
    assert rewound == 2
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    assert dropped >= 100  # at least the later records delivered before the rewind came again


def rewind_leases(dynamodb, table: str, positions: dict[str, str]) -> int:
    """What KCL does when a lease changes hands, with the checkpoint behind the delivered records:
    the owner removed, the counter moved (the old owner's renewals and checkpoints now fail)."""
    for shard, sequence in positions.items():
        dynamodb.update_item(
            TableName=table,
            Key={LEASE_KEY: {"S": shard}},
            UpdateExpression="REMOVE leaseOwner SET leaseCounter = leaseCounter + :one, checkpoint = :seq",
            ExpressionAttributeValues={":one": {"N": "1"}, ":seq": {"S": sequence}},
        )
    return len(positions)
