"""Rebalancing end to end on the embedded AWS: a load step takes the stream from 2 to 4 shards
and the job from 2 to 4 receivers with every record out across the switch; a drop brings it back
after the cooldown and never below the minimum; a spent quota changes nothing."""

from __future__ import annotations

import threading
import time

import pytest

from kinesis_pipelines.orchestration.rebalancing import (
    ReshardHistory,
    load_history,
    rebalance,
    save_history,
)
from kinesis_pipelines.pipeline import resources_for
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import (
    active_receivers,
    make_spec,
    materialize,
    wait_all_out,
    wait_for,
)

pytestmark = pytest.mark.e2e

# Thresholds scaled down so that what the emulator can take (a few hundred records/s) is "a lot".
POLICY = {"target_utilization": 0.05, "scale_up_threshold": 0.1, "scale_down_threshold": 0.02,
          "min_shards": 2, "max_shards": 4, "cooldown_seconds": 100, "lag_limit_seconds": 60}


def rebalancing_spec(name: str):  # type: ignore[no-untyped-def]
    spec = make_spec(name, shards=2, executor_cores=6, batch_interval_seconds=1)
    return spec.model_copy(update={"rebalancing": spec.rebalancing.model_validate(POLICY)})


def produce(spec, ids: list[str], per_second: float, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
    client = resources_for(spec).stream.client()
    step = max(1, int(per_second / 2))
    for start in range(0, len(ids), step):
        if stop.is_set():
            return
        put_all(client, spec.stream.name, ids[start:start + step])
        time.sleep(0.5)


def test_load_step_scales_stream_and_receivers_together(  # type: ignore[no-untyped-def]
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = rebalancing_spec("rebalanced")
    cleanup_drivers.append(spec)
    materialize(spec)
    r = resources_for(spec)
    wait_for(lambda: len(active_receivers(spec)) == 2, 120, "2 receivers")
    ids = unique_ids("step", 12_000)
    stop = threading.Event()
    producer = threading.Thread(target=produce, args=(spec, ids, 300, stop), daemon=True)
    producer.start()
    try:
        time.sleep(35)  # a full measuring window under the stepped-up load
        up = rebalance(spec, r.stream, r.app_table, r.job)
        assert up.plan.action == "scale_up", up.plan.reason
        assert (up.plan.shards_before, up.plan.shards_after) == (2, 4)
        assert (up.plan.receivers_before, up.plan.receivers_after) == (2, 4)
        assert up.applied and len(r.stream.open_shard_ids()) == 4
        wait_for(lambda: len(active_receivers(spec)) == 4, 150, "4 receivers after the switch")
    finally:
        stop.set()
        producer.join()
    tally = wait_all_out(spec, ids[: _sent_count(spec)], timeout=240)
    print(f"across 2 -> 4 shards: {tally.model_dump()}")
    assert tally.lost == 0, tally

    # The load drops: nothing until the cooldown has passed, then back to the minimum.
    changed_at = load_history(spec.name).last_change_at
    time.sleep(35)  # a whole quiet measuring window
    quiet = rebalance(spec, r.stream, r.app_table, r.job)
    assert quiet.plan.action == "none" and "cooling down" in quiet.plan.reason, quiet.plan.reason
    time.sleep(max(0.0, changed_at + POLICY["cooldown_seconds"] - time.time()) + 1)
    down = rebalance(spec, r.stream, r.app_table, r.job)
    assert down.plan.action == "scale_down", down.plan.reason
    assert down.plan.shards_after == POLICY["min_shards"] == len(r.stream.open_shard_ids())
    later = rebalance(spec, r.stream, r.app_table, r.job)
    assert later.plan.action == "none"  # never below the minimum
    r.job.stop()


def test_spent_quota_changes_nothing(local_aws, assembly_jar, cleanup_drivers) -> None:  # type: ignore[no-untyped-def]
    spec = rebalancing_spec("no_quota")
    cleanup_drivers.append(spec)
    r = resources_for(spec)
    r.stream.ensure_stream()
    now = time.time()
    save_history(spec.name, ReshardHistory(calls=[now - 60 * i for i in range(10)]))
    from kinesis_pipelines.planning.reshard import Metrics

    outcome = rebalance(spec, r.stream, r.app_table, r.job,
                        metrics=Metrics(incoming_records_per_s=1_000))
    assert outcome.plan.action == "refused" and "quota is used up" in outcome.plan.reason
    assert not outcome.applied
    assert len(r.stream.open_shard_ids()) == 2
    assert len(load_history(spec.name).calls) == 10


def _sent_count(spec) -> int:  # type: ignore[no-untyped-def]
    """How many records reached the stream (the producer stopped part way, in order)."""
    r = resources_for(spec)
    total = 0
    for shard in r.stream.list_shards():
        iterator = r.stream.client().get_shard_iterator(
            StreamName=spec.stream.name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = r.stream.client().get_records(ShardIterator=iterator, Limit=10_000)
            total += len(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return total
