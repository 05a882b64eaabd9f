"""The core pipeline end to end: Dagster materializes it on the embedded AWS, a real Spark job
consumes a real stream through the real connector, and every record is accounted for."""

from __future__ import annotations

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.launch import DriverState
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import (
    active_receivers,
    job_metadata,
    make_spec,
    materialize,
    wait_all_out,
    wait_for,
)

pytestmark = pytest.mark.e2e


def test_two_shards_ten_thousand_records(local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = make_spec("two_shards", shards=2, max_receivers=8, executor_cores=10)
    cleanup_drivers.append(spec)
    result = materialize(spec)
    meta = job_metadata(result, spec)
    assert meta["receivers"] == 2  # max receivers 8, but only 2 open shards
    assert meta["cores"] == 3
    assert meta["master"] == "local[3]"
    assert meta["action"] == "started"

    backends = operations.backends_for(spec)
    receivers = wait_for(lambda: active_receivers(spec), 120, "receivers to be active")
    assert len(receivers) == 2

    ids = unique_ids("two", 10_000)
    put = put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids)
    print(f"accounting: {tally.model_dump()}")
    # every id out once, nothing foreign
    assert (tally.lost, tally.unexpected, tally.distinct, tally.duplicates) == (0, 0, 10_000, 0), tally

    def checkpointed_past_last_record() -> bool:
        leases = backends.app_table.leases()
        by_shard = {lease.shard_id: lease for lease in leases}
        return len(leases) == 2 and all(
            (by_shard[shard].checkpoint or "").isdigit() and int(by_shard[shard].checkpoint or 0) >= int(last)
            for shard, last in put.last_sequence_by_shard.items()
        )

    wait_for(checkpointed_past_last_record, 60, "KCL checkpoints past the last record")
    leases = backends.app_table.leases()
    assert sorted(lease.shard_id for lease in leases) == sorted(backends.stream.open_shard_ids())

    # The same spec again while it runs changes nothing.
    again = job_metadata(materialize(spec, selection=f"{spec.name}/streaming_job"), spec)
    assert again["action"] == "unchanged"
    assert again["driver_id"] == meta["driver_id"]

    status = operations.stop(spec, backends)
    assert status is not None and status.state is DriverState.FINISHED


def test_one_shard_one_receiver_and_a_changed_spec_rolls_over(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = make_spec("one_shard", shards=1, max_receivers=8, executor_cores=10)
    cleanup_drivers.append(spec)
    first = job_metadata(materialize(spec), spec)
    assert first["receivers"] == 1
    wait_for(lambda: len(active_receivers(spec)) == 1, 120, "one active receiver")

    backends = operations.backends_for(spec)
    ids = unique_ids("one", 1_000)
    put_all(backends.stream.client, spec.stream.name, ids[:500])
    assert wait_all_out(spec, ids[:500]).lost == 0

    changed = make_spec("one_shard", shards=1, max_receivers=8, executor_cores=10, batch_interval_seconds=1)
    second = job_metadata(materialize(changed, selection=f"{spec.name}/streaming_job"), changed)
    assert second["action"] == "replaced"
    assert second["generation"] != first["generation"]
    assert second["replaced_generation"] == first["generation"]
    put_all(backends.stream.client, spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids)
    print(f"accounting across the switch: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally  # one ledger across generations
    assert len(backends.app_table.leases()) == 1
    operations.stop(changed, operations.backends_for(changed))
