from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kinesis_pipelines.planning.reshard import (
    DAILY_CALLS,
    Metrics,
    RebalancePolicy,
    plan_rebalance,
    split_steps,
)

POLICY = RebalancePolicy(
    target_utilization=0.5,
    scale_up_threshold=0.8,
    scale_down_threshold=0.2,
    min_shards=1,
    max_shards=64,
    cooldown_seconds=600,
    lag_limit_seconds=60,
)


def plan(
    policy: RebalancePolicy = POLICY,
    rate: float = 0.0,
    shards: int = 2,
    lag: float = 0.0,
    calls: list[float] | None = None,
    last_change: float | None = None,
    mode: str = "PROVISIONED",
):
    return plan_rebalance(
        policy,
        Metrics(incoming_records_per_s=rate, max_lag_seconds=lag),
        shards,
        mode,
        calls or [],
        last_change,
        now=100_000,
        max_receivers=8,
        executor_cores=9,
        processing_cores=1,
        master="local",
    )


def test_scale_up_doubles_per_call_and_resizes_receivers() -> None:
    result = plan(rate=1800, shards=2)  # 90 % of 2 shards; needs ceil(1.8 / 0.5) = 4
    assert (result.action, result.steps, result.shards_after) == ("scale_up", [4], 4)
    assert (result.receivers_before, result.receivers_after) == (2, 4)
    assert (result.cores_before, result.cores_after) == (3, 5)
    assert "2 → 4" in result.reason


def test_multi_step_plan() -> None:
    assert split_steps(2, 11) == [4, 8, 11]
    assert split_steps(16, 3) == [8, 4, 3]
    result = plan(rate=2 * 1000 * 0.9, shards=2, policy=POLICY.model_copy(update={"target_utilization": 0.1}))
    assert result.steps == [4, 8, 16, 18]


def test_quota_used_up_is_refused() -> None:
    calls = [99_000.0] * DAILY_CALLS
    result = plan(rate=1800, shards=2, calls=calls)
    assert result.action == "refused" and result.steps == [] and result.shards_after == 2
    assert "quota is used up" in result.reason


def test_partial_quota_stops_early() -> None:
    result = plan(
        rate=2 * 1000 * 0.9,
        shards=2,
        calls=[99_000.0] * (DAILY_CALLS - 2),
        policy=POLICY.model_copy(update={"target_utilization": 0.1}),
    )
    assert result.steps == [4, 8] and "only 2 call(s) left" in result.reason


def test_no_scale_down_while_behind() -> None:
    result = plan(rate=10, shards=8, lag=600)
    assert result.action == "none" and "no scale-down while behind" in result.reason


def test_cooldown_then_scale_down_never_below_min() -> None:
    policy = POLICY.model_copy(update={"min_shards": 2})
    assert plan(policy, rate=10, shards=8, last_change=99_900).action == "none"
    result = plan(policy, rate=10, shards=8, last_change=90_000)
    assert result.action == "scale_down" and result.steps == [4, 2] and result.shards_after == 2


def test_lag_alone_does_not_add_shards() -> None:
    result = plan(rate=500, shards=2, lag=600)
    assert result.action == "none" and "children are read only after their parents drain" in result.reason


def test_on_demand_is_left_alone() -> None:
    assert plan(rate=5000, shards=2, mode="ON_DEMAND").action == "none"


def test_policy_rules() -> None:
    with pytest.raises(ValidationError, match="scale_down_threshold < target_utilization"):
        RebalancePolicy(target_utilization=0.9, scale_up_threshold=0.8)
    with pytest.raises(ValidationError, match="exceeds max_shards"):
        RebalancePolicy(min_shards=5, max_shards=2)
    with pytest.raises(ValidationError, match="five fields"):
        RebalancePolicy(schedule="every hour")


@settings(max_examples=500)
@given(
    rate=st.floats(0, 200_000),
    shards=st.integers(1, 500),
    lag=st.floats(0, 10_000),
    used=st.integers(0, 12),
    min_shards=st.integers(1, 20),
    extra=st.integers(0, 200),
    since_change=st.one_of(st.none(), st.floats(0, 100_000)),
)
def test_no_plan_breaks_a_rule(
    rate: float, shards: int, lag: float, used: int, min_shards: int, extra: int, since_change: float | None
) -> None:
    policy = POLICY.model_copy(update={"min_shards": min_shards, "max_shards": min_shards + extra})
    last = None if since_change is None else 100_000 - since_change
    result = plan(policy, rate=rate, shards=shards, lag=lag, calls=[99_999.0] * used, last_change=last)
    previous = shards
    for step in result.steps:
        assert previous / 2 <= step <= previous * 2  # at most double, at least half
        previous = step
    assert len(result.steps) <= max(0, DAILY_CALLS - used)
    if result.steps:
        assert result.shards_after == result.steps[-1]
        if result.shards_after > shards:
            assert result.shards_after <= policy.max_shards or shards < policy.min_shards
        else:
            assert result.shards_after >= policy.min_shards or shards > policy.max_shards
            assert lag <= policy.lag_limit_seconds  # never down while behind
    else:
        assert result.shards_after == shards
    assert result.reason


def test_a_reshard_made_elsewhere_is_noticed_on_provisioned_streams_only() -> None:
    from kinesis_pipelines.planning.reshard import outside_change

    assert outside_change(recorded_shards=2, open_shards=4, mode="PROVISIONED")
    assert not outside_change(recorded_shards=4, open_shards=4, mode="PROVISIONED")
    assert not outside_change(recorded_shards=None, open_shards=4, mode="PROVISIONED")  # first look
    assert not outside_change(recorded_shards=2, open_shards=4, mode="ON_DEMAND")
