from __future__ import annotations

from kinesis_pipelines.planning.health import (
    FailureKind,
    Health,
    HealthVerdict,
    Observation,
    classify,
    classify_failure,
    first_new_input,
)

RUNNING = Observation(
    deployed=True, running=True, api_responding=True, receivers=2, active_receivers=2, completed_batches=10
)


def look(
    obs: Observation, now: float, previous: int = 10, progress_at: float | None = 100.0, **more: float
) -> HealthVerdict:
    """One classification with a 2 s interval, 5 stall batches and a driver started at 0."""
    return classify(
        obs,
        now=now,
        previous_batches=previous,
        progress_at=progress_at,
        batch_interval_seconds=2,
        stall_batches=5,
        started_at=0,
        **more,  # type: ignore[arg-type]
    )


def test_batches_advancing_is_healthy() -> None:
    verdict = look(RUNNING.model_copy(update={"completed_batches": 11}), now=500)
    assert verdict.health is Health.HEALTHY and verdict.progress_at == 500


def test_no_batch_for_k_intervals_is_stalled() -> None:
    verdict = look(RUNNING, now=311, progress_at=300)  # 11 s quiet > 5 x 2 s
    assert verdict.health is Health.STALLED and "no batch or task finished" in verdict.reason


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


def test_a_long_batch_whose_tasks_finish_is_not_stalled() -> None:
    """No batch for 200 s (100 intervals), but tasks finishing: slow, not stalled."""
    working = RUNNING.model_copy(update={"completed_tasks": 40})
    verdict = look(working, now=300, previous=10, progress_at=100, previous_tasks=25)
    assert verdict.health is Health.HEALTHY and "tasks finishing" in verdict.reason
    assert (verdict.progress_at, verdict.completed_tasks) == (300, 40)
    # the same driver, nothing finished since: stalled once the limit has passed
    idle = look(working, now=311, previous=10, progress_at=300, previous_tasks=40)
    assert idle.health is Health.STALLED and "no batch or task finished" in idle.reason


def test_a_driver_recovering_its_checkpoint_before_the_streaming_api_answers_is_not_stalled() -> None:
    """Inside StreamingContext.start, running the batches its checkpoint holds: the streaming API
    is not up, Spark's is, and tasks finish."""
    recovering = RUNNING.model_copy(
        update={"api_responding": False, "completed_batches": 0, "completed_tasks": 900}
    )
    verdict = look(recovering, now=1000, previous=0, progress_at=700, previous_tasks=850)
    assert verdict.health is Health.HEALTHY and verdict.reason.startswith("recovering")
    silent = recovering.model_copy(update={"completed_tasks": None})
    stalled = look(silent, now=1000, previous=0, progress_at=700, previous_tasks=850)
    assert stalled.health is Health.STALLED and "API silent" in stalled.reason


def test_tasks_of_sparks_own_startup_job_do_not_end_the_grace() -> None:
    """When receivers start, Spark runs a short job of its own (its tasks finish at once); the
    streaming API comes up later. The YARN supervision test caught a version that ended the grace
    on those tasks and called a starting driver stalled (and asked for its restart)."""
    starting = RUNNING.model_copy(
        update={"api_responding": False, "completed_batches": 0, "completed_tasks": 50}
    )
    first = look(starting, now=5, previous=0, progress_at=None, previous_tasks=0)
    later = look(
        starting, now=60, previous=0, progress_at=first.progress_at, previous_tasks=first.completed_tasks
    )
    assert later.health is Health.HEALTHY and later.reason == "starting", later
    # past the grace, with nothing finishing since: stalled
    hung = look(
        starting, now=200, previous=0, progress_at=first.progress_at, previous_tasks=first.completed_tasks
    )
    assert hung.health is Health.STALLED


def test_a_task_longer_than_the_stall_limit_is_working_until_the_task_limit() -> None:
    """A big block under a slow processor: one task runs for longer than the stall limit and
    nothing finishes meanwhile. Working while tasks run; stalled once none has finished for
    task_stall_seconds (a processor hung on a call), or when nothing runs at all."""
    long_task = RUNNING.model_copy(update={"completed_tasks": 40, "running_tasks": 1})

    def at(now: float, obs: Observation = long_task) -> HealthVerdict:
        return classify(
            obs, now=now, previous_batches=10, progress_at=100, batch_interval_seconds=2, stall_batches=5,
            started_at=0, previous_tasks=40, task_stall_seconds=60,
        )  # fmt: skip

    working = at(130)
    assert working.health is Health.HEALTHY and "1 tasks running, none finished for 30 s" in working.reason
    assert working.progress_at == 100  # running is not finishing: the clock keeps going
    hung = at(161)
    assert hung.health is Health.STALLED and "1 tasks running" in hung.reason
    idle = at(130, long_task.model_copy(update={"running_tasks": 0}))
    assert idle.health is Health.STALLED
    # the same before the streaming API answers (a driver recovering inside StreamingContext.start)
    recovering = at(130, long_task.model_copy(update={"api_responding": False, "completed_batches": 0}))
    assert recovering.health is Health.HEALTHY and recovering.reason.startswith("recovering")
