"""When to restart a failed or stalled job: exponential back-off, a budget per window, the count
forgotten after a stable period. Pure: the caller passes the history and the time."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RestartPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backoff_seconds: float = Field(5.0, gt=0, description="Wait before the first restart.")
    max_backoff_seconds: float = Field(300.0, gt=0, description="Longest wait between restarts.")
    budget: int = Field(
        5, ge=1, description="Restarts allowed per window: the supervisor's and the backend's own."
    )
    driver_attempts: int = Field(
        2,
        ge=1,
        le=10,
        description=(
            "Times the backend itself starts a driver whose process died, before the supervisor "
            "steps in: the local launcher relaunches it at once from its checkpoint (like YARN's "
            "application attempts). 1 leaves every restart to the supervisor."
        ),
    )
    window_seconds: float = Field(3600.0, gt=0, description="The budget's rolling window.")
    stable_seconds: float = Field(
        600.0, gt=0, description="Healthy this long and earlier restarts no longer count."
    )


class RestartDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    restart: bool
    wait_seconds: float
    budget_left: int
    reason: str


def in_window(times: list[float], now: float, window_seconds: float) -> list[float]:
    """The restart times that count against a budget of `window_seconds`: the rolling window."""
    return [t for t in times if now - t <= window_seconds]


def decide_restart(
    policy: RestartPolicy,
    restarts: list[float],
    now: float,
    healthy_since: float | None,
    retryable: bool = True,
) -> RestartDecision:
    """Restart now, later (back-off) or never (budget spent, or a deterministic failure).

    `restarts` are the times of earlier restarts; those before a stable healthy period, or
    outside the window, do not count."""
    counted = in_window(restarts, now, policy.window_seconds)
    if healthy_since is not None and now - healthy_since >= policy.stable_seconds:
        counted = [t for t in counted if t > healthy_since]
    left = policy.budget - len(counted)
    if not retryable:
        return RestartDecision(
            restart=False,
            wait_seconds=0,
            budget_left=left,
            reason="the failure is deterministic (an error in the processor): fix it and deploy",
        )
    if left <= 0:
        return RestartDecision(
            restart=False,
            wait_seconds=0,
            budget_left=0,
            reason=(
                f"restart budget spent: {len(counted)} restarts in the last "
                f"{policy.window_seconds:.0f} s (budget {policy.budget})"
            ),
        )
    backoff = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** len(counted))
    since_last = now - max(counted) if counted else float("inf")
    wait = max(0.0, backoff - since_last) if counted else 0.0
    if wait > 0:
        return RestartDecision(
            restart=False,
            wait_seconds=wait,
            budget_left=left,
            reason=f"backing off {wait:.0f} s more (restart {len(counted) + 1}, back-off {backoff:.0f} s)",
        )
    return RestartDecision(
        restart=True,
        wait_seconds=0,
        budget_left=left - 1,
        reason=f"restart {len(counted) + 1} of {policy.budget} in the window",
    )
