from __future__ import annotations

from kinesis_pipelines.planning.health import (
    FailureKind,
    Health,
    Observation,
    classify,
    classify_failure,
    first_new_input,
)

RUNNING = Observation(
    deployed=True, running=True, api_responding=True, receivers=2, active_receivers=2, completed_batches=10
)


def look(obs: Observation, now: float, previous: int = 10, progress_at: float | None = 100.0):
    return classify(
        obs,
        now=now,
        previous_batches=previous,
        progress_at=progress_at,
        batch_interval_seconds=2,
        stall_batches=5,
        started_at=0,
    )


def test_batches_advancing_is_healthy() -> None:
    verdict = look(RUNNING.model_copy(update={"completed_batches": 11}), now=500)
    assert verdict.health is Health.HEALTHY and verdict.progress_at == 500


def test_no_batch_for_k_intervals_is_stalled() -> None:
    verdict = look(RUNNING, now=311, progress_at=300)  # 11 s quiet > 5 x 2 s
    assert verdict.health is Health.STALLED and "no batch completed" in verdict.reason


def test_silent_api_is_stalled_after_k_intervals() -> None:
    silent = RUNNING.model_copy(update={"api_responding": False, "completed_batches": 0})
    assert look(silent, now=105).health is Health.HEALTHY
    assert look(silent, now=200).health is Health.STALLED


def test_inactive_receivers_is_stalled() -> None:
    verdict = look(RUNNING.model_copy(update={"active_receivers": 1, "completed_batches": 11}), now=200)
    assert verdict.health is Health.STALLED and "1 of 2 receivers" in verdict.reason


def test_startup_grace() -> None:
    starting = RUNNING.model_copy(update={"api_responding": False, "completed_batches": 0})
    verdict = classify(
        starting,
        now=60,
        previous_batches=0,
        progress_at=None,
        batch_interval_seconds=2,
        stall_batches=5,
        started_at=0,
    )
    assert verdict.health is Health.HEALTHY


def test_exits() -> None:
    gone = Observation(deployed=True, running=False, exit_code=None)
    assert look(gone, now=1).health is Health.FAILED
    assert look(gone.model_copy(update={"exit_code": 1}), now=1).health is Health.FAILED
    stopped = gone.model_copy(update={"exit_code": 0, "stopped_on_purpose": True})
    assert look(stopped, now=1).health is Health.STOPPED
    assert look(Observation(deployed=False, running=False), now=1).health is Health.NOT_DEPLOYED


def test_failure_classification() -> None:
    assert classify_failure(None, "anything") is FailureKind.KILLED
    assert classify_failure(1, "java.lang.OutOfMemoryError: Java heap space") is FailureKind.OUT_OF_MEMORY
    python_error = "org.apache.spark.api.python.PythonException: Traceback"
    assert classify_failure(1, python_error) is FailureKind.PROCESSOR_ERROR
    assert classify_failure(1, "ProvisionedThroughputExceededException") is FailureKind.AWS_THROTTLING
    assert classify_failure(1, "ERROR LeaseManager: Failed to get table status") is FailureKind.LEASE_TABLE
    assert classify_failure(1, "Connection refused (Connection refused)") is FailureKind.CONNECTION_LOST
    assert classify_failure(3, "kinesis-pipelines fence held by h:1:gen") is FailureKind.FENCED
    assert classify_failure(1, "nothing known") is FailureKind.UNKNOWN


def test_no_grace_once_batches_were_seen() -> None:
    silent = RUNNING.model_copy(update={"api_responding": False})
    verdict = classify(
        silent,
        now=40,
        previous_batches=10,
        progress_at=20,
        batch_interval_seconds=2,
        stall_batches=5,
        started_at=0,
    )
    assert verdict.health is Health.STALLED


def test_first_new_input_skips_replayed_and_empty_batches() -> None:
    started = 1000.0
    batches = [(1006.0, 40), (1004.0, 0), (998.0, 500)]  # new; not reading yet; replayed
    assert first_new_input(batches, started) == 1006.0
    assert first_new_input(batches[1:], started) is None
    assert first_new_input([], started) is None


def test_an_unmeasured_lag_is_unknown_never_within_the_limit() -> None:
    from kinesis_pipelines.planning.health import LagHealth, classify_lag

    unknown = classify_lag({"shardId-0": 10}, 1_000, "reading shardId-1 failed (ResourceNotFoundException)")
    assert unknown.health is LagHealth.UNKNOWN and unknown.worst_ms is None
    assert "could not measure the lag: reading shardId-1 failed" in unknown.reason
    assert classify_lag({}, 1_000, "the lease table is unreachable").health is LagHealth.UNKNOWN
    within = classify_lag({"shardId-0": 10, "shardId-1": 900}, 1_000, None)
    assert within.health is LagHealth.WITHIN and within.worst_ms == 900
    over = classify_lag({"shardId-0": 10, "shardId-1": 2_500}, 1_000, None)
    assert over.health is LagHealth.OVER and "shardId-1" in over.reason and "2.5 s" in over.reason
    assert classify_lag({}, 1_000, None).reason == "no lease checkpoints yet"
