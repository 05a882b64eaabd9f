"""A lease left far behind what the pipeline published reads nothing twice, whatever the ledger's
window: the next driver moves it up to the ledger's delivered position before its receivers start.

KCL checkpoints on a timer and the sink publishes per batch, so a starved or killed driver can
leave a lease's checkpoint behind what it published; the ledger drops a re-read record only within
`job.dedupe_window_seconds`. Here the window is one batch and the lease is set back to the shard's
first record, as far behind as a lease can be: without the move, every record of the first run
would come out twice (all but the last batch's, which the window still holds)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_positions
from kinesis_pipelines.aws.dynamodb import set_checkpoint
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, wait_all_out, wait_for

pytestmark = pytest.mark.e2e


def test_a_lease_left_behind_what_was_published_reads_nothing_twice(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = make_spec("lagging_lease", shards=1, dedupe_window_seconds=2)  # the ledger keeps one batch
    cleanup_drivers.append(spec)
    backends = operations.backends_for(spec)
    operations.deploy(spec, backends)
    client = backends.stream.client
    first = unique_ids("lag-first", 400)
    for start in range(0, len(first), 50):  # over several batches: the window keeps only the last
        put_all(client, spec.stream.name, first[start : start + 50])
        time.sleep(1.5 * spec.job.batch_interval_seconds)
    assert wait_all_out(spec, first, timeout=180).lost == 0
    (shard,) = backends.stream.open_shard_ids()
    delivered = wait_for(
        lambda: (read_positions(ledger_dir(spec)) or {}).get(shard),
        60,
        "a delivered position",
    )
    stopped = operations.stop(spec, backends)
    assert stopped is not None and stopped.state.value == "FINISHED", stopped

    # the lease set back to the shard's first record, far behind what was published
    iterator = client.get_shard_iterator(
        StreamName=spec.stream.name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    oldest = client.get_records(ShardIterator=iterator, Limit=1)["Records"][0]["SequenceNumber"]
    assert int(oldest) < int(delivered)
    (lease,) = [lease for lease in backends.app_table.leases() if lease.shard_id == shard]
    assert set_checkpoint(backends.app_table.client, spec.app_table.application_name, lease, oldest)

    operations.deploy(spec, backends)  # the operator's next deploy: the same generation again
    second = unique_ids("lag-second", 100)
    put_all(client, spec.stream.name, second)
    tally = wait_all_out(spec, first + second, timeout=180)
    print(f"after the lease was set back: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    record = backends.store.driver()
    assert record is not None
    log = Path(record.log_location).read_text(errors="replace")
    assert f"not reading again what was delivered: {shard} from {oldest} up to" in log
