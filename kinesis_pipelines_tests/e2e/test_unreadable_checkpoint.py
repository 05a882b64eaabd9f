"""A checkpoint that cannot be read is never set aside on its own, and when it is set aside (on the
operator's word, or by a roll that cannot drain the generation it leaves) nothing it held is
skipped: every shard resumes from what the pipeline delivered, not from KCL's positions.

The setting: a slow processor behind a backlog, so KCL's checkpoint (moved once a block is in the
write-ahead log) is far past what was delivered when the driver is killed; then the generation's
Spark checkpoint is overwritten with garbage. Before, the driver set it aside by itself and KCL
resumed past every record received and not delivered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_positions
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import (
    BEHIND_RATE,
    SLOW,
    make_spec,
    records_out,
    wait_all_out,
    wait_for,
)
from kinesis_pipelines_tests.e2e.supervision_helpers import kill_driver

pytestmark = pytest.mark.e2e

IDS = 2_000  # put at 300 records/s, processed at about 100


def behind_and_broken(name: str, cleanup_drivers: list) -> tuple:
    """A pipeline killed while far behind, its Spark checkpoint then made unreadable."""
    spec = make_spec(name, shards=1, processor=SLOW, executor_cores=2)
    cleanup_drivers.append(spec)
    backends = operations.backends_for(spec)
    operations.deploy(spec, backends)
    warm = unique_ids(f"{name}-warm", 50)
    put_all(backends.stream.client, spec.stream.name, warm)
    wait_all_out(spec, warm, timeout=180)  # the receiver reads: from here on, batches of 2 s
    ids = warm + unique_ids(name, IDS)
    started = time.monotonic()
    producer = threading.Thread(
        target=put_all,
        args=(backends.stream.client, spec.stream.name, ids[len(warm) :]),
        kwargs={"rate_per_second": BEHIND_RATE},
    )
    producer.start()
    wait_for(lambda: records_out(spec) >= len(warm) + 300, 180, "some batches out")
    kill_driver(spec)
    delivered = records_out(spec)
    (lease,) = backends.app_table.leases()
    positions = read_positions(ledger_dir(spec))
    log = Path(backends.store.driver().log_location).read_text()  # type: ignore[union-attr]
    print(
        f"{name}: killed {time.monotonic() - started:.0f} s in with "
        f"{delivered} out; KCL checkpoint {lease.checkpoint}; delivered positions {positions}"
    )
    assert positions and positions.get(lease.shard_id), log[-3000:]
    producer.join()
    received = int(lease.checkpoint or 0) > int(positions[lease.shard_id])
    assert received, "KCL's checkpoint is not past what was delivered: nothing to lose, nothing tested"
    record = backends.store.driver()
    assert record is not None
    checkpoint = Path(record.checkpoint_dir)
    broken = sorted(checkpoint.glob("checkpoint-*"))
    assert broken, f"no Spark checkpoint in {checkpoint}"
    for path in broken:
        path.write_bytes(b"not a checkpoint")
    return spec, backends, ids, checkpoint


def test_an_unreadable_checkpoint_is_set_aside_only_on_the_operators_word(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec, backends, ids, checkpoint = behind_and_broken("unreadable", cleanup_drivers)
    with pytest.raises(LaunchError, match="exit code 4"):
        operations.restart(spec, backends)
    assert sorted(p.name for p in checkpoint.glob("checkpoint-*")), "the checkpoint was changed"
    failed = backends.store.driver()
    assert failed is not None
    log = Path(failed.log_location).read_text()
    assert "could not be used" in log and "--discard-checkpoint" in log

    said: list[str] = []
    result = operations.restart(spec, backends, discard_checkpoint=True, progress=said.append)
    assert result.action == "restarted", result
    assert any("re-reading what was received and not delivered" in line for line in said), said
    assert list(checkpoint.parent.glob(f"{checkpoint.name}.discarded-*"))
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"after --discard-checkpoint: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    operations.stop(spec, backends)


def test_a_roll_that_cannot_drain_an_unreadable_generation_resumes_from_what_was_delivered(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec, _, ids, _ = behind_and_broken("unreadable_roll", cleanup_drivers)
    changed = spec.model_copy(update={"job": spec.job.model_copy(update={"batch_interval_seconds": 3.0})})
    result = operations.deploy_job(changed, operations.backends_for(changed))
    print(f"roll: {result.action}; {result.reason}")
    assert result.action == "started" and result.drain_relaunched and result.drained is False  # old one dead
    assert result.resumed_from_delivered and "back from" in result.resumed_from_delivered
    tally = wait_all_out(changed, ids, timeout=240)
    print(f"after the roll: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    assert job_path(changed.job.sink.path) == job_path(spec.job.sink.path)
    operations.stop(changed, operations.backends_for(changed))
