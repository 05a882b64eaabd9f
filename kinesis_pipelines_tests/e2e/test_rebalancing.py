"""Rebalancing end to end on the embedded AWS: a load step takes the stream from 2 to 4 shards
and the job from 2 to 4 receivers with every record out across the switch; a drop brings it back
after the cooldown and never below the minimum; a spent quota changes nothing."""

from __future__ import annotations

import threading
import time

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.planning.reshard import RECORDS_PER_SHARD, Metrics
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import ReshardHistory
from kinesis_pipelines_tests.e2e.helpers import (
    active_receivers,
    make_spec,
    materialize,
    wait_all_out,
    wait_for,
)

pytestmark = pytest.mark.e2e

BOUNDS = {"min_shards": 2, "max_shards": 4, "cooldown_seconds": 100, "lag_limit_seconds": 60}


def rebalancing_spec(name: str) -> PipelineSpec:
    return make_spec(name, shards=2, executor_cores=6, batch_interval_seconds=1)


def policy_for(spec: PipelineSpec, measured_records_per_s: float) -> PipelineSpec:
    """Thresholds set from the load the emulator actually took, so that it is "a lot" on any
    machine: the measured rate is 2.5 times the target utilization and twice the scale-up
    threshold (so the planner wants 5 shards, capped at the maximum of 4)."""
    utilization = measured_records_per_s / (2 * RECORDS_PER_SHARD)
    policy = {
        **BOUNDS,
        "target_utilization": utilization / 2.5,
        "scale_up_threshold": utilization / 2,
        "scale_down_threshold": utilization / 10,
    }
    return spec.model_copy(update={"rebalancing": spec.rebalancing.model_validate(policy)})


def produce(spec: PipelineSpec, ids: list[str], per_second: float, stop: threading.Event) -> None:
    client = operations.backends_for(spec).stream.client
    step = max(1, int(per_second / 2))
    for start in range(0, len(ids), step):
        if stop.is_set():
            return
        put_all(client, spec.stream.name, ids[start : start + step])
        time.sleep(0.5)


def test_load_step_scales_stream_and_receivers_together(local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = rebalancing_spec("rebalanced")
    cleanup_drivers.append(spec)
    materialize(spec)
    backends = operations.backends_for(spec)
    wait_for(lambda: len(active_receivers(spec)) == 2, 120, "2 receivers")
    ids = unique_ids("step", 12_000)
    stop = threading.Event()
    producer = threading.Thread(target=produce, args=(spec, ids, 300, stop), daemon=True)
    producer.start()
    try:
        time.sleep(35)  # a full measuring window under the stepped-up load
        measured = operations.measure(spec, backends, now=time.time())
        print(f"load the emulator took: {measured.incoming_records_per_s:.0f} records/s")
        assert measured.incoming_records_per_s > 0, "no batch carried any record"
        spec = policy_for(spec, measured.incoming_records_per_s)
        up = operations.rebalance(spec, backends, now=time.time(), metrics=measured)
        assert up.plan is not None and up.plan.action == "scale_up", up
        assert (up.plan.shards_before, up.plan.shards_after) == (2, 4)
        assert (up.plan.receivers_before, up.plan.receivers_after) == (2, 4)
        assert up.applied and len(backends.stream.open_shard_ids()) == 4
        wait_for(lambda: len(active_receivers(spec)) == 4, 150, "4 receivers after the switch")
    finally:
        stop.set()
        producer.join()
    tally = wait_all_out(spec, ids[: _sent_count(spec)], timeout=240)
    print(f"across 2 -> 4 shards: {tally.model_dump()}")
    assert tally.lost == 0, tally

    # The load drops to nothing: no change within the cooldown, then back to the minimum, and
    # never below it. Time is passed in rather than waited for.
    changed_at = backends.store.reshards().last_change_at
    assert changed_at is not None
    idle = Metrics(incoming_records_per_s=0.0, source="injected: no load")
    quiet = operations.rebalance(spec, backends, now=changed_at + 10, metrics=idle)
    assert quiet.plan is not None and quiet.plan.action == "none", quiet
    assert "cooling down" in quiet.plan.reason, quiet.plan.reason
    after_cooldown = changed_at + BOUNDS["cooldown_seconds"] + 1
    down = operations.rebalance(spec, backends, now=after_cooldown, metrics=idle)
    assert down.plan is not None and down.plan.action == "scale_down", down
    assert down.plan.shards_after == BOUNDS["min_shards"] == len(backends.stream.open_shard_ids())
    later = operations.rebalance(spec, backends, now=after_cooldown + 1, metrics=idle)
    assert later.plan is not None and later.plan.action == "none"  # never below the minimum
    operations.stop(spec, backends)


def test_spent_quota_changes_nothing(local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = policy_for(rebalancing_spec("no_quota"), 100.0)
    cleanup_drivers.append(spec)
    materialize(spec)
    backends = operations.backends_for(spec)
    now = time.time()
    backends.store.save_reshards(ReshardHistory(calls=[now - 60 * i for i in range(10)]))
    outcome = operations.rebalance(spec, backends, now=now, metrics=Metrics(incoming_records_per_s=1_000))
    assert outcome.plan is not None and outcome.plan.action == "refused", outcome
    assert "quota is used up" in outcome.plan.reason
    assert not outcome.applied
    assert len(backends.stream.open_shard_ids()) == 2
    assert len(backends.store.reshards().calls) == 10
    operations.stop(spec, backends)


def test_a_stopped_or_undeployed_pipeline_is_skipped(local_aws) -> None:
    spec = rebalancing_spec("never_deployed")
    backends = operations.backends_for(spec)
    outcome = operations.rebalance(spec, backends, now=time.time())
    assert outcome.plan is None and outcome.skipped and "not deployed" in outcome.skipped


def _sent_count(spec: PipelineSpec) -> int:
    """How many records reached the stream (the producer stopped part way, in order)."""
    stream = operations.backends_for(spec).stream
    total = 0
    for shard in stream.list_shards():
        iterator = stream.client.get_shard_iterator(
            StreamName=spec.stream.name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = stream.client.get_records(ShardIterator=iterator, Limit=10_000)
            total += len(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return total
