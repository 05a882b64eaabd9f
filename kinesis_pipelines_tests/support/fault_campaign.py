"""A fault campaign on one running pipeline: a seeded, random schedule of faults, one after the
other, each followed by its recovery (the supervisor's restart where one is needed, as the health
sensor's run would make it) and a quiet gap; bad records arrive meanwhile from the producer
(fault_traffic.py). What happened is kept as `FaultEvent`s for the checker (fault_checker.py).

Fault kinds:
- driver_kill: SIGKILL of the driver's process group (then the supervisor's restart), or of the
  driver's processes only (the local launcher's attempts runner relaunches it in place);
- orchestrator_kill: a deploy of a changed spec in a child process, SIGKILLed in the middle of
  the roll (mid-drain, or just after the new driver was submitted); the next deploy finishes it;
- spec_change: a roll to a new generation (the batch interval changed);
- rebalance: UpdateShardCount (2 <-> 3 open shards), then the rebalance roll to the receivers the
  stream now needs;
- emulator_restart: the Kinesis or the DynamoDB emulator stopped and started again with its data;
- dynamodb_partition: the driver's fence client cut off from DynamoDB, briefly (it rides it out)
  or for longer than the fence's TTL (it stops itself; the supervisor restarts it)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from kinesis_pipelines import operations
from kinesis_pipelines.app import control
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.errors import KinesisPipelinesError, OperationLockedError
from kinesis_pipelines.launch import DriverRecord, DriverState
from kinesis_pipelines.operations.deploy import roll_for_rebalance
from kinesis_pipelines.processes import alive
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines_tests.e2e.supervision_helpers import group_members
from kinesis_pipelines_tests.support.fault_traffic import Producer, SinkWatcher
from kinesis_pipelines_tests.support.proxies import PartitionProxy

KINDS = (
    "driver_kill",
    "orchestrator_kill",
    "spec_change",
    "rebalance",
    "emulator_restart",
    "dynamodb_partition",
)
BAD_RECORDS = "bad_records"
FENCE_TTL_SECONDS = 15.0  # the drivers' fence TTL in a campaign (KP_FENCE_TTL_SECONDS)
RECOVERY_TIMEOUT_SECONDS = 420.0
SUPERVISOR_LOOK_SECONDS = 5.0  # how often the stand-in for the health sensor looks
SPARK_STOP_TIMEOUT = "Timed out while stopping the job generator"
Say = Callable[[str], None]


class FaultEvent(BaseModel):
    kind: str
    variant: str
    injected_at: float
    action_done_at: float | None = None
    recovered_at: float | None = None
    detail: str = ""
    restarts: int = 0  # supervisor restarts it took

    @property
    def recovered(self) -> bool:
        return self.recovered_at is not None


class Campaign:
    """One pipeline under faults. `spec` is the spec now deployed (it changes with each roll)."""

    def __init__(
        self, spec: PipelineSpec, aws: LocalAws, proxy: PartitionProxy, producer: Producer,
        watcher: SinkWatcher, work: Path, rng: random.Random, say: Say,
    ) -> None:  # fmt: skip
        self.spec, self.aws, self.proxy, self.producer = spec, aws, proxy, producer
        self.watcher, self.work, self.rng, self.say = watcher, work, rng, say
        self.events: list[FaultEvent] = []
        self.rolls = 0
        self.final_redeploys = 0  # deploys after a final stop that had to kill the driver
        self.drivers: dict[str, DriverRecord] = {}  # every driver seen, to end them all at the close
        self.children: list[int] = []  # orchestrator processes started, by process group

    # -- the schedule ------------------------------------------------------------------------
    def run(
        self, minutes: float, kinds: tuple[str, ...] = KINDS, gap: tuple[float, float] = (10, 40)
    ) -> None:
        """Faults until `minutes` have passed: first each kind once in a shuffled order (all of
        them, however long it takes), then kinds drawn at random; each waited out (recovered or
        timed out), then a quiet gap."""
        deadline = time.monotonic() + minutes * 60
        first = list(kinds)
        self.rng.shuffle(first)
        while first or time.monotonic() < deadline:
            kind = first.pop(0) if first else self.rng.choice(kinds)
            event = self.inject(kind)
            self.say(
                f"{kind} ({event.variant}): "
                + (f"recovered in {event.recovered_at - event.injected_at:.0f} s" if event.recovered_at
                   else "NOT recovered") + (f"; {event.detail}" if event.detail else "")
            )  # fmt: skip
            time.sleep(self.rng.uniform(*gap))

    def inject(self, kind: str) -> FaultEvent:
        self.remember_driver()
        event = FaultEvent(kind=kind, variant="", injected_at=time.time())
        self.events.append(event)
        self.say(f"injecting {kind}")
        try:
            getattr(self, kind)(event)
        except (KinesisPipelinesError, OSError, TimeoutError) as exc:
            event.detail = f"the fault's operation failed: {type(exc).__name__}: {exc}"[:600]
            self.say(event.detail)
        event.action_done_at = time.time()
        self.recover(event)
        self.remember_driver()
        return event

    # -- recovery: the supervisor's part, and the flow of new ids out ------------------------
    def recover(self, event: FaultEvent) -> None:
        """Wait until an id put after the fault's action ended is out (any: the first may be in a
        batch dead-lettered with a poison record); meanwhile, as the health sensor would, restart
        the driver (requested_by supervisor) when it is not running."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT_SECONDS
        last_look = 0.0
        target = self.producer.index_after(event.action_done_at or event.injected_at)
        while time.monotonic() < deadline:
            self.watcher.refresh()
            if target < len(self.producer.ids) and self.watcher.highest >= target:
                event.recovered_at = time.time()
                return
            if time.monotonic() - last_look >= SUPERVISOR_LOOK_SECONDS:
                last_look = time.monotonic()
                event.restarts += self.supervise()
            time.sleep(1)

    def supervise(self) -> int:
        """One look: 1 if the driver was found not running and restarted."""
        backends = operations.backends_for(self.spec)
        try:
            record = backends.store.driver()
            if record is None or backends.launcher.status(record).state is DriverState.RUNNING:
                return 0
            self.say(f"supervisor: {record.driver_id} is not running; restarting it")
            result = operations.restart(
                self.spec, backends, expected_driver_id=record.driver_id, graceful=False,
                requested_by="supervisor", requested_at=time.time(), progress=self.say,
            )  # fmt: skip
            self.say(f"supervisor: {result.action}: {result.reason}")
            return 1
        except KinesisPipelinesError as exc:
            self.say(f"supervisor: {type(exc).__name__}: {exc}"[:400])
            return 0

    def remember_driver(self) -> None:
        try:
            record = operations.backends_for(self.spec).store.driver()
        except KinesisPipelinesError:
            return
        if record is not None:
            self.drivers[record.driver_id] = record

    # -- the faults --------------------------------------------------------------------------
    def driver_kill(self, event: FaultEvent) -> None:
        record = self.current_driver()
        assert record.pid is not None
        if self.rng.random() < 0.5:
            event.variant = "process group"
            os.killpg(record.pid, signal.SIGKILL)
        else:
            event.variant = "driver processes"  # the attempts runner lives on and relaunches
            for pid in group_members(record.pid):
                if pid != record.pid:
                    os.kill(pid, signal.SIGKILL)

    def spec_change(self, event: FaultEvent) -> None:
        changed = self.next_spec()
        event.variant = f"batch interval {changed.job.batch_interval_seconds:g} s"
        result = self.with_lock_retry(lambda: operations.deploy_job(
            changed, operations.backends_for(changed), progress=self.say))  # fmt: skip
        self.spec = changed
        event.detail = f"{result.action}, drained {result.drained}, relaunched {result.drain_relaunched}"

    def orchestrator_kill(self, event: FaultEvent) -> None:
        old = self.current_driver()
        changed = self.next_spec()
        spec_file = self.work / f"roll-{self.rolls}.json"
        spec_file.write_text(changed.model_dump_json())
        log = (self.work / f"orchestrator-{self.rolls}.log").open("w")
        child = subprocess.Popen(
            [sys.executable, "-m", "kinesis_pipelines_tests.support.fault_campaign", "roll", str(spec_file)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.children.append(child.pid)
        backends = operations.backends_for(changed)
        if self.rng.random() < 0.6:
            event.variant = "mid-drain"
            marker = Path(old.control_dir) / control.STOP_MARKER
            wait_until(lambda: marker.exists() or child.poll() is not None, 180)
            time.sleep(self.rng.uniform(0, 4))
        else:
            event.variant = "after the new driver's submit"

            def submitted() -> bool:
                record = backends.store.driver()
                return (record is not None and record.driver_id != old.driver_id) or child.poll() is not None

            wait_until(submitted, 300)
        ended_first = child.poll()
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        log.close()
        if ended_first is not None:
            event.variant += " (the roll ended before the kill)"
        self.spec = changed
        self.say(f"orchestrator killed ({event.variant}); the next deploy finishes the roll")
        result = self.with_lock_retry(lambda: operations.deploy_job(changed, backends, progress=self.say))
        event.detail = f"{result.action}, drained {result.drained}, relaunched {result.drain_relaunched}"

    def rebalance(self, event: FaultEvent) -> None:
        backends = operations.backends_for(self.spec)
        stream = backends.stream
        target = 3 if len(stream.open_shard_ids()) <= 2 else 2
        event.variant = f"to {target} shards"
        stream.update_shard_count(target)
        stream.wait_active(self.say, timeout=300)
        history = backends.store.reshards()
        backends.store.save_reshards(history.model_copy(update={"shards": target}))
        result = self.with_lock_retry(lambda: roll_for_rebalance(self.spec, backends, progress=self.say))
        event.detail = f"{result.action}, drained {result.drained}, relaunched {result.drain_relaunched}"

    def emulator_restart(self, event: FaultEvent) -> None:
        service = self.rng.choice(["kinesis", "dynamodb"])
        event.variant = service
        if service == "kinesis":  # paused, so that no put is cut off (kinesis-mock saves each second)
            with self.producer.gate:
                time.sleep(2)
                self.aws.restart_service(service)
        else:
            self.aws.restart_service(service)

    def dynamodb_partition(self, event: FaultEvent) -> None:
        longer = self.rng.random() < 0.5
        seconds = FENCE_TTL_SECONDS * self.rng.uniform(1.3, 1.8) if longer else self.rng.uniform(2, 6)
        event.variant = f"{'longer than the TTL' if longer else 'brief'} ({seconds:.0f} s)"
        self.proxy.partition()
        try:
            time.sleep(seconds)
        finally:
            self.proxy.heal()

    # -- steps -------------------------------------------------------------------------------
    def current_driver(self) -> DriverRecord:
        record = operations.backends_for(self.spec).store.driver()
        assert record is not None and record.pid is not None, "no driver to fault"
        return record

    def next_spec(self) -> PipelineSpec:
        """The spec with a batch interval it has not had yet: a new generation each time."""
        self.rolls += 1
        interval = 2.0 + (self.rolls % 20) * 0.05
        return self.spec.model_copy(
            update={"job": self.spec.job.model_copy(update={"batch_interval_seconds": interval})}
        )

    def with_lock_retry(self, operation: Callable[[], operations.DeployResult]) -> operations.DeployResult:
        """An operation, again while a killed orchestrator's lock has not expired yet."""
        deadline = time.monotonic() + 300
        while True:
            try:
                return operation()
            except OperationLockedError as exc:
                if time.monotonic() > deadline:
                    raise
                self.say(f"waiting for the pipeline's lock: {exc}"[:300])
                time.sleep(5)

    def spark_stop_timeouts(self) -> list[str]:
        """The drivers whose graceful stop Spark cut off at the drain timeout (their log says
        so): what they had received but not processed may be in their write-ahead log only."""
        found = []
        for record in self.drivers.values():
            log = Path(record.log_location)
            if log.is_file() and SPARK_STOP_TIMEOUT in log.read_text(errors="replace"):
                found.append(f"{record.driver_id} ({record.generation})")
        return found

    def close(self) -> None:
        """End every orchestrator child and driver this campaign saw that is still alive."""
        for pgid in self.children:
            if alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        self.remember_driver()
        backends = operations.backends_for(self.spec)
        for record in self.drivers.values():
            try:
                if backends.launcher.status(record).state is DriverState.RUNNING:
                    backends.launcher.kill(record)
            except KinesisPipelinesError:
                pass


def wait_until(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _roll_child(spec_file: str) -> None:
    """The orchestrator that the campaign kills mid-roll: a deploy of the changed spec."""
    spec = PipelineSpec.model_validate_json(Path(spec_file).read_text())
    result = operations.deploy_job(spec, operations.backends_for(spec), progress=print)
    print(f"roll ended: {result.action}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "roll":
        _roll_child(sys.argv[2])
    else:
        sys.exit("usage: python -m kinesis_pipelines_tests.support.fault_campaign roll SPEC_JSON")
