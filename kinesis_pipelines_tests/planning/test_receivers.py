from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kinesis_pipelines.errors import PlanError
from kinesis_pipelines.planning import block_interval_ms, plan_receivers


def plan(**overrides: object):
    args: dict[str, Any] = {
        "open_shards": 2,
        "max_receivers": 8,
        "executor_cores": 4,
        "processing_cores": 1,
        "master": "local",
    }
    args.update(overrides)
    return plan_receivers(**args)


def test_receivers_limited_by_open_shards() -> None:
    result = plan(open_shards=2, max_receivers=8, executor_cores=16)
    assert (result.receivers, result.cores, result.master) == (2, 3, "local[3]")
    assert "open shards" in result.reason


def test_receivers_limited_by_max_receivers() -> None:
    result = plan(open_shards=10, max_receivers=3, executor_cores=16)
    assert result.receivers == 3
    assert "max receivers" in result.reason


def test_receivers_limited_by_cores() -> None:
    result = plan(open_shards=10, max_receivers=10, executor_cores=4, processing_cores=2)
    assert (result.receivers, result.cores) == (2, 4)
    assert "cores left for receivers" in result.reason


def test_cluster_master_is_kept() -> None:
    assert plan(master="spark://10.0.0.1:7077").master == "spark://10.0.0.1:7077"


def test_too_few_cores_is_refused_with_what_to_change() -> None:
    with pytest.raises(PlanError, match="raise executor_cores to at least 3"):
        plan(executor_cores=2, processing_cores=2)


def test_no_open_shards_is_refused() -> None:
    with pytest.raises(PlanError, match="0 open shards"):
        plan(open_shards=0)


@given(
    open_shards=st.integers(1, 600),
    max_receivers=st.integers(1, 600),
    processing_cores=st.integers(1, 64),
    extra_cores=st.integers(1, 600),
    cluster=st.booleans(),
)
def test_plan_invariants(
    open_shards: int, max_receivers: int, processing_cores: int, extra_cores: int, cluster: bool
) -> None:
    executor_cores = processing_cores + extra_cores
    master = "spark://m:7077" if cluster else "local"
    result = plan_receivers(
        open_shards=open_shards,
        max_receivers=max_receivers,
        executor_cores=executor_cores,
        processing_cores=processing_cores,
        master=master,
    )
    assert 1 <= result.receivers <= min(open_shards, max_receivers, extra_cores)
    assert result.receivers == min(open_shards, max_receivers, extra_cores)
    assert result.cores == result.receivers + processing_cores
    assert result.cores <= executor_cores
    assert result.cores > result.receivers  # local[n] needs n > receivers
    assert result.master == (master if cluster else f"local[{result.cores}]")


def test_block_interval_gives_each_processing_core_two_partitions_and_each_receiver_two_blocks() -> None:
    # 3 receivers, 1 processing core: 2 blocks each (the floor), not the 10 of Spark's 200 ms
    assert block_interval_ms(batch_interval_seconds=2.1, receivers=3, processing_cores=1) == 1050
    # 1 receiver, 4 processing cores: 8 blocks, so that every core has two partitions
    assert block_interval_ms(batch_interval_seconds=2.0, receivers=1, processing_cores=4) == 250
    # never below Spark's 50 ms
    assert block_interval_ms(batch_interval_seconds=0.1, receivers=1, processing_cores=8) == 50


@given(
    batch=st.floats(min_value=0.1, max_value=600),
    receivers=st.integers(min_value=1, max_value=64),
    processing=st.integers(min_value=1, max_value=64),
)
def test_block_interval_bounds(batch: float, receivers: int, processing: int) -> None:
    interval = block_interval_ms(
        batch_interval_seconds=batch, receivers=receivers, processing_cores=processing
    )
    assert interval >= 50
    assert interval <= max(50, batch * 1000 / 2)  # at least two blocks per receiver per batch
    if interval > 50:  # not at the floor: the processing cores get their two partitions each
        assert receivers * (batch * 1000 // interval) >= 2 * processing
