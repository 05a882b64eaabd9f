"""Supervision end to end: the health sensor notices a killed, hung or failing driver and the
restart job replaces it from its checkpoints; no record is lost, duplicates are counted."""

from __future__ import annotations

import os
import signal
import threading
import time

import dagster as dg
import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.home import HOME_ENV
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.orchestration.metadata import look_metadata
from kinesis_pipelines.processes import alive
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import (
    SLOW,
    make_spec,
    materialize,
    start_behind,
    wait_all_out,
    wait_for,
)
from kinesis_pipelines_tests.e2e.supervision_helpers import (
    Supervisor,
    group_members,
    kill_driver,
    kill_driver_processes,
)

pytestmark = pytest.mark.e2e

FAST_RESTARTS = {"restart": {"backoff_seconds": 1, "budget": 5}, "stall_batches": 3}


def supervised_spec(name: str, **job: object):
    spec = make_spec(name, shards=2, write_ahead_log=True, batch_interval_seconds=1, **job)
    return spec.model_copy(update={"supervision": spec.supervision.model_validate(FAST_RESTARTS)})


def test_sigkill_three_times_loses_nothing(local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = supervised_spec("killed")
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    backends = backends_for(spec)
    client = backends.stream.client
    ids = unique_ids("kill", 4_000)
    for round_ in range(3):
        chunk = ids[round_ * 1000 : (round_ + 1) * 1000]
        put_all(client, spec.stream.name, chunk)
        assert wait_all_out(spec, chunk[:1], timeout=120).lost == 0, "the chunk never came out"
        old = kill_driver(spec, signal.SIGKILL)
        supervisor.tick_until_restarted()
        assert not alive(old)
        if round_ == 0:
            # the same request again (a Dagster run retry, a second sensor tick) changes nothing
            again = supervisor.rerun_last()
            assert again == "unchanged"
        record = backends.store.driver()
        assert record is not None and record.pid is not None and record.pid != old
        assert alive(record.pid)
    put_all(client, spec.stream.name, ids[3000:])
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"after 3 SIGKILLs: {tally.model_dump()}")
    assert tally.lost == 0, tally
    # KCL re-reads each shard from its last checkpoint after every kill; the delivery ledger
    # drops what the killed driver had already delivered
    print(f"dropped by the delivery ledger: {read_totals(ledger_dir(spec))}")
    assert tally.duplicates == 0, tally
    # the repeated request restarted nothing, so three restarts count against the budget
    assert len(supervisor.restart_runs) == 3
    assert len(backends.store.restarts().times) == 3


def test_a_crashed_driver_is_relaunched_in_place_before_the_supervisor_is_needed(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    """The driver's processes die but the host lives: the local launcher's attempts runner starts
    the next attempt from the checkpoint at once; the supervisor sees a new attempt, not a failure,
    and counts it against the budget."""
    spec = supervised_spec("crashed")
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    backends = backends_for(spec)
    ids = unique_ids("crash", 1_000)
    put_all(backends.stream.client, spec.stream.name, ids[:500])
    wait_for(lambda: wait_all_out(spec, ids[:500], timeout=1).lost == 0, 120, "first half out")
    record = backends.store.driver()
    assert record is not None
    group = kill_driver_processes(spec)
    relaunched = wait_for(
        lambda: backends.launcher.status(record).attempt == 2 and backends.launcher.driver_info(record),
        120,
        "the second attempt to start",
    )
    assert relaunched.recovered_from_checkpoint
    status = backends.launcher.status(record)
    assert status.state.value == "RUNNING" and alive(group)
    put_all(backends.stream.client, spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids, timeout=180)
    print(f"after a crash relaunched in place: {tally.model_dump()}; {read_totals(ledger_dir(spec))}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    supervisor.tick()
    assert supervisor.restart_runs == []  # nothing for the supervisor to do
    look = operations.supervise(spec, backends)
    assert look.restarts_in_window == 1  # the relaunch spent budget
    assert look_metadata(look)["driver_attempt"] == 2
    assert look_metadata(look)["reading_new_records"] is True  # the relaunched attempt read ids[500:]
    assert isinstance(look_metadata(look)["start_to_first_new_records_seconds"], float)


def test_stalled_driver_is_replaced_and_no_second_survives(local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = supervised_spec("stalled")
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    ids = unique_ids("stall", 1_000)
    backends = backends_for(spec)
    put_all(backends.stream.client, spec.stream.name, ids[:500])
    wait_for(lambda: wait_all_out(spec, ids[:500], timeout=1).lost == 0, 120, "first half out")
    supervisor.tick()  # a healthy look first, so progress is known
    old = kill_driver(spec, signal.SIGSTOP)
    supervisor.tick_until_restarted()
    survivors = [p for p in group_members(old) if alive(p)]
    assert not survivors, "the stalled driver survived"
    record = backends.store.driver()
    assert record is not None and record.pid != old
    put_all(backends.stream.client, spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids, timeout=180)
    assert tally.lost == 0, tally


def test_processor_failing_every_batch_is_not_restarted_forever(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    # with the `fail` policy (the default dead-letters such batches and goes on: e2e/test_bad_records.py)
    failing = "kinesis_pipelines.app.processors:fail_every_batch"
    spec = supervised_spec("failing", processor=failing, bad_records={"policy": "fail"})
    # one attempt: the local launcher's relaunch in place has its own test above; here the
    # supervisor alone decides (each attempt costs a Spark start, leases and KCL's first read)
    policy = spec.supervision.restart.model_copy(update={"driver_attempts": 1})
    spec = spec.model_copy(update={"supervision": spec.supervision.model_copy(update={"restart": policy})})
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    backends = backends_for(spec)
    put_all(backends.stream.client, spec.stream.name, unique_ids("fail", 10))
    record = backends.store.driver()
    assert record is not None
    # each of its attempts starts Spark, takes its leases and waits out KCL's first read before the
    # failing batch ends it: minutes on a busy 2-core machine
    wait_for(lambda: backends.launcher.status(record).state.value == "FAILED", 360, "the driver to fail")
    for _ in range(5):
        supervisor.tick()
    assert supervisor.restart_runs == []
    state = backends.store.supervisor()
    assert state.failure == "processor_error"
    assert state.gave_up and "deterministic" in state.gave_up


def test_a_stop_stays_stopped_and_refuses_an_earlier_restart_request(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = supervised_spec("stays_stopped")
    cleanup_drivers.append(spec)
    materialize(spec)
    backends = backends_for(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    record = backends.store.driver()
    assert record is not None
    asked_before_the_stop = time.time()
    stop = supervisor.defs.get_job_def(f"{spec.name}__stop")
    assert stop.execute_in_process(instance=supervisor.instance).success
    assert not alive(record.pid or 0)
    for _ in range(4):  # the sensor sees a stopped job, not a failed one
        supervisor.tick()
        time.sleep(1)
    assert supervisor.restart_runs == []
    assert backends.store.supervisor().health == "stopped"
    # a restart the sensor had asked for before the stop arrives late: refused
    late = operations.restart(
        spec, backends, expected_driver_id=record.driver_id, requested_by="supervisor",
        requested_at=asked_before_the_stop,
    )  # fmt: skip
    assert late.action == "refused", late
    assert backends.store.driver() == record and not alive(record.pid or 0)
    assert backends.store.restarts().times == []


def test_two_deploys_at_once_leave_exactly_one_driver(local_aws, assembly_jar, cleanup_drivers) -> None:
    spec = supervised_spec("twice")
    cleanup_drivers.append(spec)
    backends_for(spec).stream.ensure_stream()
    results: list[object] = []

    def deploy() -> None:
        try:
            results.append(operations.deploy_job(spec, backends_for(spec), assembly=assembly_jar))
        except LaunchError as exc:
            results.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    actions = sorted(getattr(r, "action", "refused") for r in results)
    assert actions == ["started", "unchanged"], results
    time.sleep(3)
    ours = f"{os.environ[HOME_ENV]}/pipelines/{spec.name}/"  # this session's, not another worker's
    drivers = [p for p in _all_drivers() if ours in p[1]]
    assert len(drivers) == 1, drivers


def _all_drivers() -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            is_driver = "receiver_app.py" in cmdline and "python" in cmdline.split(" ")[0]
            if is_driver and "kinesis_pipelines.launch.attempts" not in cmdline:  # not its runner
                found.append((int(entry), cmdline))
    return found


def test_a_driver_killed_far_behind_is_restarted_once_and_left_to_recover(
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    """A driver SIGKILLed with thousands of records received and not processed is replaced once;
    its successor recovers them from the write-ahead log (Spark allocates them all to its first
    batch, and generates the batches it missed inside StreamingContext.start, before the streaming
    API answers) and works for longer than the startup grace and the stall limit without completing
    a batch. The supervisor, looking every second, must see its finishing tasks as progress and
    leave it alone: a replacement would start that work over, and so would the next one."""
    # 4 s batches cut 2 s blocks: at 600 ids/s a block is about 1,200 records, a 12 s task at
    # SLOW's 10 ms a record
    spec = make_spec(
        "recovering",
        shards=1,
        processor=SLOW,
        executor_cores=2,
        write_ahead_log=True,
        batch_interval_seconds=4,
    )
    supervision = {
        "restart": {"backoff_seconds": 1, "budget": 5},
        # an 8 s stall limit: shorter than one recovered task, so the looks must see tasks running
        # with none finished past the limit; longer than the driver's own work between two tasks
        # (publishing a batch, generating the next) on a loaded 2-core host, which took over 4 s
        "stall_batches": 2,
        # the first recovered batch holds every block the killed driver had (about 40 s of work),
        # well past this grace; a replacement's start (JVM, leases, the write-ahead log) within it
        "startup_grace_seconds": 20,
    }
    spec = spec.model_copy(update={"supervision": spec.supervision.model_validate(supervision)})
    cleanup_drivers.append(spec)
    ids = unique_ids("recover", 5_000)
    producer = start_behind(spec, ids, rate=600)
    producer.join()
    at_kill = wait_all_out(spec, ids, timeout=0).distinct
    kill_driver(spec, signal.SIGKILL)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    supervisor.tick_until_restarted()
    backends = backends_for(spec)
    reasons: list[str] = []
    deadline = time.monotonic() + 600
    tally = wait_all_out(spec, ids, timeout=0)
    while tally.lost and time.monotonic() < deadline:
        supervisor.tick()
        memory = backends.store.supervisor()
        reasons.append(f"{memory.driver_id} {memory.previous_batches} batches: {memory.reason}")
        time.sleep(1)
        tally = wait_all_out(spec, ids, timeout=0)
    print(f"{at_kill} of {len(ids)} ids out at the kill; {tally.model_dump()}; looks:")
    print("\n".join(reasons))
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    # the path under test was walked: past the grace and the stall limit, tasks running, no batch
    assert any("tasks running, none finished" in reason for reason in reasons), reasons
    assert len(supervisor.restart_runs) == 1, [r for r in reasons if "no batch" in r]
