"""A roll back to a generation the pipeline left earlier starts that generation afresh.

Rolling away and back (a spec changed and changed back; a rebalance from 2 to 3 shards and back
to 2) leads to a generation whose Spark checkpoint is older than the generations that ran since.
Recovering it would generate again every batch time since it was left, on the same grid of batch
times as the generation that ran meanwhile, and the replay of each of those (empty) batches
overwrote what that generation's batch of the same time had delivered in the delivery ledger: the
records KCL read again after the roll then came out twice. The test checks the ledger itself (a
re-read after the roll is not certain) and every id once. The 30-minute fault campaign found it
(2 ids twice, after a rebalance back to 2 shards)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, records_out, wait_all_out, wait_for

pytestmark = pytest.mark.e2e

IDS = 3_000
RATE = 60  # records/s: batches full of records on both shards through both rolls


def test_a_roll_back_to_an_earlier_generation_starts_it_afresh_and_duplicates_nothing(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    first = make_spec("roll_back", shards=2, max_receivers=2)
    other = make_spec("roll_back", shards=2, max_receivers=1)  # one receiver: another generation
    cleanup_drivers.append(first)
    backends = operations.backends_for(first)
    started = operations.deploy(first, backends)
    ids = unique_ids("rollback", IDS)
    producer = threading.Thread(
        target=put_all,
        args=(backends.stream.client, first.stream.name, ids),
        kwargs={"rate_per_second": RATE},
    )
    producer.start()
    wait_for(lambda: records_out(first) >= 300, 180, "records out of the first generation")

    away = operations.deploy_job(other, operations.backends_for(other), assembly=assembly_jar)
    assert away.action == "replaced" and away.drained is True, away
    out_at_away = records_out(other)
    wait_for(lambda: records_out(other) >= out_at_away + 300, 180, "records out of the other generation")
    ledger = Path(ledger_dir(first))
    delivered_by_other = {f.name: f.read_text() for f in ledger.glob("*.keys") if f.read_text()}
    progress: list[str] = []
    back = operations.deploy_job(first, backends, assembly=assembly_jar, progress=progress.append)
    print("\n".join(progress))
    assert back.action == "replaced" and back.drained is True, back
    assert back.record is not None and started.job.record is not None
    assert back.record.generation == started.job.record.generation  # the first generation again

    producer.join()
    tally = wait_all_out(first, ids, timeout=240)
    print(tally.model_dump())
    assert (tally.lost, tally.duplicates, tally.unexpected) == (0, 0, 0), tally
    # what the other generation delivered is still known to the ledger (or aged out of it), never
    # overwritten by a replay of the first generation's old batches at the same batch times
    erased = [
        name
        for name, keys in delivered_by_other.items()
        if (ledger / name).exists() and (ledger / name).read_text() != keys
    ]
    assert delivered_by_other and not erased, erased
    checkpoints = Path(job_path(first.job.checkpoint_dir)) / first.name
    aside = sorted(p.name for p in checkpoints.glob(f"{back.record.generation}.superseded-*"))
    assert len(aside) == 1, sorted(p.name for p in checkpoints.iterdir())
    operations.stop(first, backends)
