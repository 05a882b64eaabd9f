from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kinesis_pipelines.planning.restarts import RestartPolicy, decide_restart

POLICY = RestartPolicy(
    backoff_seconds=5, max_backoff_seconds=60, budget=3, window_seconds=3600, stable_seconds=600
)


def test_first_restart_is_immediate() -> None:
    decision = decide_restart(POLICY, [], now=1000, healthy_since=None)
    assert decision.restart and decision.wait_seconds == 0 and decision.budget_left == 2


def test_back_off_doubles() -> None:
    # one restart 6 s ago: back-off is now 10 s, so 4 s more
    decision = decide_restart(POLICY, [994], now=1000, healthy_since=None)
    assert not decision.restart and round(decision.wait_seconds) == 4
    assert decide_restart(POLICY, [990], now=1000, healthy_since=None).restart


def test_budget_spent_stops_trying() -> None:
    decision = decide_restart(POLICY, [100, 200, 300], now=1000, healthy_since=None)
    assert not decision.restart and decision.wait_seconds == 0
    assert "budget spent" in decision.reason


def test_restarts_outside_the_window_do_not_count() -> None:
    assert decide_restart(POLICY, [100, 200, 300], now=5000, healthy_since=None).restart


def test_stable_period_resets_the_count() -> None:
    decision = decide_restart(POLICY, [100, 200, 300], now=1000, healthy_since=301)
    assert decision.restart  # healthy from 301 to 1000 (> 600 s): earlier restarts forgotten


def test_deterministic_failures_are_not_restarted() -> None:
    decision = decide_restart(POLICY, [], now=1000, healthy_since=None, retryable=False)
    assert not decision.restart and "deterministic" in decision.reason


@settings(max_examples=300)
@given(
    gaps=st.lists(st.floats(min_value=0, max_value=4000), min_size=1, max_size=40),
    budget=st.integers(1, 10),
    backoff=st.floats(min_value=0.5, max_value=100),
)
def test_never_more_than_the_budget_in_any_window(gaps: list[float], budget: int, backoff: float) -> None:
    policy = RestartPolicy(
        backoff_seconds=backoff,
        max_backoff_seconds=backoff * 64,
        budget=budget,
        window_seconds=3600,
        stable_seconds=10**9,
    )
    now, restarts = 0.0, list[float]()
    for gap in gaps:
        now += gap
        if decide_restart(policy, restarts, now, healthy_since=None).restart:
            if restarts:
                counted = len([t for t in restarts if now - t <= 3600])
                wanted = min(policy.max_backoff_seconds, backoff * 2**counted)
                assert now - restarts[-1] >= wanted - 1e-6
            restarts.append(now)
        in_window = [t for t in restarts if now - t <= 3600]
        assert len(in_window) <= budget
