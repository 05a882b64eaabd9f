"""Driving the real health sensor and restart job in-process, the way the daemon would."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from typing import Any

import dagster as dg

from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.orchestration import build_definitions
from kinesis_pipelines.spec import PipelineSpec


class Supervisor:
    def __init__(self, spec: PipelineSpec, instance: dg.DagsterInstance) -> None:
        self.spec = spec
        self.defs = build_definitions([spec])
        self.instance = instance
        self.restart_runs: list[dg.ExecuteInProcessResult] = []
        self.restart_configs: list[Mapping[str, Any]] = []

    def tick(self) -> object:
        """One sensor evaluation, as the daemon makes it; any restart it asks for runs at once."""
        sensor = self.defs.get_sensor_def(f"{self.spec.name}__health")
        with dg.build_sensor_context(
            instance=self.instance, resources=self.defs.resources, definitions=self.defs
        ) as context:
            result = sensor.evaluate_tick(context)
        job = self.defs.get_job_def(f"{self.spec.name}__restart")
        for request in result.run_requests or []:
            run = job.execute_in_process(run_config=request.run_config, instance=self.instance)
            assert run.success
            self.restart_runs.append(run)
            self.restart_configs.append(request.run_config)
        return result

    def rerun_last(self) -> str:
        """Run the last restart request once more; returns the restart op's action."""
        job = self.defs.get_job_def(f"{self.spec.name}__restart")
        run = job.execute_in_process(run_config=self.restart_configs[-1], instance=self.instance)
        step = f"{self.spec.name}__restart_driver"
        events = [e for e in run.events_for_node(step) if e.event_type_value == "STEP_OUTPUT"]
        metadata = events[-1].step_output_data.metadata
        return str(metadata["action"].value)

    def tick_until_restarted(self, timeout: float = 180) -> None:
        before = len(self.restart_runs)
        deadline = time.monotonic() + timeout
        while len(self.restart_runs) == before:
            assert time.monotonic() < deadline, "the supervisor never restarted the job"
            self.tick()
            time.sleep(1)


def kill_driver(spec: PipelineSpec, sig: signal.Signals = signal.SIGKILL) -> int:
    record = backends_for(spec).store.driver()
    assert record is not None and record.pid is not None
    if sig == signal.SIGSTOP:
        # stop the JVM and the Python driver, not the shell: a hung driver, not a dead one
        for pid in group_members(record.pid):
            if pid != record.pid:
                os.kill(pid, signal.SIGSTOP)
    else:
        os.killpg(record.pid, sig)
    return record.pid


def kill_driver_processes(spec: PipelineSpec) -> int:
    """SIGKILL the driver's processes (spark-submit's JVM and the Python driver) but not the
    launcher's attempts runner that leads their group: a driver that crashed, on a host that
    lives on. Returns the group's id."""
    record = backends_for(spec).store.driver()
    assert record is not None and record.pid is not None
    for pid in group_members(record.pid):
        if pid != record.pid:
            os.kill(pid, signal.SIGKILL)
    return record.pid


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().split(") ", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":  # a zombie is already gone
                members.append(int(entry))
    return members
