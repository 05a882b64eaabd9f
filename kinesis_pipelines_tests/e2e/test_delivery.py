"""Each record once when nothing fails: a run of over 60 s with a receiver per shard, while KCL
moves leases between the receivers as it always does after a start, puts every record in the
output exactly once. The delivery ledger's count of dropped records shows what would otherwise
have been duplicated."""

from __future__ import annotations

import threading
import time

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, wait_all_out

pytestmark = pytest.mark.e2e

PRODUCE_SECONDS = 65
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
    deployment = operations.deploy(spec, backends)
    assert deployment.job.plan is not None and deployment.job.plan.receivers == shards
    watch = LeaseWatch(backends)
    watch.start()
    ids = unique_ids(f"once{shards}", PRODUCE_SECONDS * RATE)
    started = time.monotonic()
    put_all(backends.stream.client, spec.stream.name, ids, rate_per_second=RATE)
    produced_seconds = time.monotonic() - started
    tally = wait_all_out(spec, ids)
    watch.done.set()
    totals = read_totals(ledger_dir(spec))
    print(
        f"{shards} shards: {len(ids)} records in {produced_seconds:.0f} s "
        f"({len(ids) / produced_seconds:.0f}/s); lease moves seen {watch.moves}; "
        f"ledger admitted {totals['admitted']}, dropped {totals['dropped']}; {tally.model_dump()}"
    )
    assert produced_seconds >= 60
    assert (tally.lost, tally.unexpected, tally.duplicates) == (0, 0, 0), tally
    # The ledger admitted each record once and dropped every second copy KCL read.
    assert totals["admitted"] == len(ids)
    # The receivers ended up sharing the shards, which KCL reaches by moving leases.
    assert len({owner for owner in watch.owners.values() if owner}) == shards
    operations.stop(spec, backends)
