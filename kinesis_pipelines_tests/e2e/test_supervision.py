"""Supervision end to end: the health sensor notices a killed, hung or failing driver and the
restart job replaces it from its checkpoints; no record is lost, duplicates are counted."""

from __future__ import annotations

import signal
import threading
import time

import dagster as dg
import pytest

from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.pipeline import resources_for
from kinesis_pipelines.processes import alive
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, materialize, wait_all_out, wait_for
from kinesis_pipelines_tests.e2e.supervision_helpers import Supervisor, _group, kill_driver

pytestmark = pytest.mark.e2e

FAST_RESTARTS = {"restart": {"backoff_seconds": 1, "budget": 5}, "stall_batches": 3}


def supervised_spec(name: str, **job: object):  # type: ignore[no-untyped-def]
    spec = make_spec(name, shards=2, write_ahead_log=True, batch_interval_seconds=1, **job)
    return spec.model_copy(
        update={"supervision": spec.supervision.model_validate(FAST_RESTARTS)}
    )


def test_sigkill_three_times_loses_nothing(local_aws, assembly_jar, cleanup_drivers) -> None:  # type: ignore[no-untyped-def]
    spec = supervised_spec("killed")
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    client = resources_for(spec).stream.client()
    ids = unique_ids("kill", 4_000)
    for round_ in range(3):
        chunk = ids[round_ * 1000:(round_ + 1) * 1000]
        put_all(client, spec.stream.name, chunk)
        wait_for(lambda c=chunk: wait_all_out(spec, c[:1], timeout=1).lost == 0, 120,
                 "the chunk to start coming out")
        old = kill_driver(spec, signal.SIGKILL)
        supervisor.tick_until_restarted()
        assert not alive(old)
        if round_ == 0:
            # the same request again (a Dagster run retry, a second sensor tick) changes nothing
            again = supervisor.rerun_last()
            assert again == "unchanged"
        record = resources_for(spec).job.current()
        assert record is not None and record.pid != old and alive(record.pid)
    put_all(client, spec.stream.name, ids[3000:])
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"after 3 SIGKILLs: {tally.model_dump()}")
    assert tally.lost == 0, tally
    assert tally.duplicates <= 3 * 1000  # at most what arrived since the last KCL checkpoint, per kill
    assert len(supervisor.restart_runs) == 3


def test_stalled_driver_is_replaced_and_no_second_survives(  # type: ignore[no-untyped-def]
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = supervised_spec("stalled")
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    ids = unique_ids("stall", 1_000)
    put_all(resources_for(spec).stream.client(), spec.stream.name, ids[:500])
    wait_for(lambda: wait_all_out(spec, ids[:500], timeout=1).lost == 0, 120, "first half out")
    supervisor.tick()  # a healthy look first, so progress is known
    old = kill_driver(spec, signal.SIGSTOP)
    supervisor.tick_until_restarted()
    state = resources_for(spec).job
    assert not _group(old) or not any(alive(p) for p in _group(old)), "the stalled driver survived"
    assert state.current().pid != old
    put_all(resources_for(spec).stream.client(), spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids, timeout=180)
    assert tally.lost == 0, tally


def test_processor_failing_every_batch_is_not_restarted_forever(  # type: ignore[no-untyped-def]
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = supervised_spec("failing", processor="kinesis_pipelines.app.processors:fail_every_batch")
    cleanup_drivers.append(spec)
    materialize(spec)
    supervisor = Supervisor(spec, dg.DagsterInstance.ephemeral())
    put_all(resources_for(spec).stream.client(), spec.stream.name, unique_ids("fail", 10))
    job = resources_for(spec).job
    wait_for(lambda: job.status()[1].state.value == "FAILED", 180, "the driver to fail")
    for _ in range(5):
        supervisor.tick()
    assert supervisor.restart_runs == []
    from kinesis_pipelines.orchestration.supervision import load_state

    state = load_state(spec.name)
    assert state.failure == "processor_error"
    assert state.gave_up and "deterministic" in state.gave_up


def test_two_deploys_at_once_leave_exactly_one_driver(  # type: ignore[no-untyped-def]
    local_aws, assembly_jar, cleanup_drivers
) -> None:
    spec = supervised_spec("twice")
    cleanup_drivers.append(spec)
    resources = resources_for(spec)
    resources.stream.ensure_stream()
    results: list[object] = []

    def deploy() -> None:
        try:
            results.append(
                resources_for(spec).job.deploy(2, assembly_jar.path)
            )
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
    drivers = [p for p in _all_drivers() if f"/pipelines/{spec.name}/" in p[1]]
    assert len(drivers) == 1, drivers


def _all_drivers() -> list[tuple[int, str]]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "receiver_app.py" in cmdline and "python" in cmdline.split(" ")[0]:
                found.append((int(entry), cmdline))
    return found
