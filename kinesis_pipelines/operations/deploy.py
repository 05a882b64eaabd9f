"""The Spark receiver job of a pipeline: plan, submit, replace, stop."""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import requests
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from kinesis_pipelines import fence
from kinesis_pipelines.aws import make_client, resolve_connection
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch.base import DriverRecord, DriverState, DriverStatus, Launcher
from kinesis_pipelines.launch.local import LocalProcessLauncher
from kinesis_pipelines.launch.submit import (
    build_submit_request,
    check_processor,
    pipeline_dir,
)
from kinesis_pipelines.planning import ReceiverPlan, plan_receivers
from kinesis_pipelines.processes import free_port
from kinesis_pipelines.resources.dynamodb import release_leases
from kinesis_pipelines.spec import PipelineSpec

Progress = Callable[[str], None]


class DeployResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: str  # "started", "unchanged" or "replaced"
    record: DriverRecord
    plan: ReceiverPlan
    application_id: str | None
    ui_url: str
    checkpoint_dir: str
    replaced_generation: str | None = None
    recovered_from_checkpoint: bool = False


class SparkReceiverJobResource(dg.ConfigurableResource):
    """Submits and supervises the pipeline's streaming driver."""

    spec_json: str = Field(description="The pipeline spec (JSON of kinesis_pipelines.PipelineSpec).")
    stop_timeout_seconds: float = Field(90.0, description="Graceful stop wait before a kill.")
    start_timeout_seconds: float = Field(180.0, description="Wait for the driver to come up.")

    def spec(self) -> PipelineSpec:
        return PipelineSpec.model_validate_json(self.spec_json)

    def launcher(self) -> Launcher:
        return LocalProcessLauncher()

    def plan(self, open_shards: int) -> ReceiverPlan:
        job = self.spec().job
        return plan_receivers(
            open_shards=open_shards,
            max_receivers=job.max_receivers,
            executor_cores=job.executor_cores,
            processing_cores=job.processing_cores,
            master=job.master,
        )

    def current(self) -> DriverRecord | None:
        path = pipeline_dir(self.spec().name) / "driver.json"
        if not path.exists():
            return None
        return DriverRecord.model_validate_json(path.read_text())

    def status(self) -> tuple[DriverRecord | None, DriverStatus | None]:
        record = self.current()
        if record is None:
            return None, None
        return record, self.launcher().status(record)

    def deploy(
        self,
        open_shards: int,
        assembly_jar: str,
        progress: Progress | None = None,
        restart: bool = False,
        expected_driver_id: str | None = None,
        graceful: bool = True,
    ) -> DeployResult:
        """Run the job for the current spec: nothing if that exact generation already runs,
        else stop the running one gracefully and start the new generation. With `restart`, the
        driver is replaced even if it runs (a stalled one is killed) and started again from its
        Spark checkpoint; with `expected_driver_id`, only if that driver is still the current
        one, so a sensor's restart and a run retry never double up. One operation at a time per
        pipeline on this machine (a lock), and never two drivers anywhere (the fence)."""
        say = progress or (lambda _m: None)
        spec = self.spec()
        check_processor(spec.job.processor)
        plan = self.plan(open_shards)
        connection = resolve_connection(spec)
        request, config, override = build_submit_request(
            spec, plan, connection, assembly_jar, ui_port=free_port()
        )
        launcher = self.launcher()
        with self._operation_lock():
            existing = self.current()
            running = existing is not None and launcher.status(existing).state is DriverState.RUNNING
            if existing is not None and expected_driver_id and existing.driver_id != expected_driver_id:
                say(f"{spec.name}: {expected_driver_id} was already replaced by {existing.driver_id}")
                return self._result("unchanged", existing, plan)
            if running and existing is not None and existing.generation == request.generation and not restart:
                say(f"{spec.name}: generation {existing.generation} already running; unchanged")
                return self._result("unchanged", existing, plan)
            replaced = None
            dynamodb = self._fence_client()
            if existing is not None:
                if running and graceful:
                    say(f"{spec.name}: stopping {existing.driver_id} ({existing.generation})")
                    launcher.stop_gracefully(existing, timeout=self.stop_timeout_seconds)
                    replaced = existing.generation
                elif running:
                    say(f"{spec.name}: killing {existing.driver_id} (not responding)")
                    launcher.kill(existing)
                    replaced = existing.generation
                self._clear_after(existing, dynamodb, say)
            self._check_fence_free(dynamodb)
            gen_dir = Path(config.info_file).parent
            gen_dir.mkdir(parents=True, exist_ok=True)
            (gen_dir / "job.json").write_text(config.model_dump_json(indent=2))
            if override is not None:
                (gen_dir / "region-override.xml").write_text(override)
            say(f"{spec.name}: submitting {plan.receivers} receiver(s) on {plan.master}")
            record = launcher.submit(request).model_copy(
                update={
                    "receivers": plan.receivers,
                    "cores": plan.cores,
                    "checkpoint_dir": config.checkpoint_dir,
                }
            )
            (pipeline_dir(spec.name) / "driver.json").write_text(record.model_dump_json(indent=2))
            self.wait_started(record, say)
        if replaced == request.generation or (restart and existing is not None and not replaced):
            action = "restarted"
        elif replaced:
            action = "replaced"
        else:
            action = "started"
        return self._result(action, record, plan, replaced)

    def _result(
        self, action: str, record: DriverRecord, plan: ReceiverPlan, replaced: str | None = None
    ) -> DeployResult:
        info = _read_info(record.info_file)
        return DeployResult(
            action=action,
            record=record,
            plan=plan,
            application_id=info.get("application_id"),
            ui_url=record.ui_url,
            checkpoint_dir=record.checkpoint_dir,
            replaced_generation=replaced,
            recovered_from_checkpoint=bool(info.get("recovered_from_checkpoint")),
        )

    @contextmanager
    def _operation_lock(self) -> Iterator[None]:
        directory = pipeline_dir(self.spec().name)
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / ".operation.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _fence_client(self) -> Any:
        """A DynamoDB client for the fence table, which it makes sure exists."""
        client = make_client("dynamodb", resolve_connection(self.spec()))
        fence.ensure_fence_table(client, self.spec().supervision.fence_table)
        return client

    def _clear_after(self, old: DriverRecord, client: Any, say: Progress) -> None:
        """Once the old driver is gone: make sure (a zombie is killed), break its fence and
        release its leases so the next driver takes them at once."""
        launcher = self.launcher()
        if launcher.status(old).state is DriverState.RUNNING:
            say(f"{old.pipeline}: {old.driver_id} did not stop; killing it")
            launcher.kill(old)
        spec = self.spec()
        owner = _read_info(old.info_file).get("fence_owner")
        if owner:
            fence.release(client, spec.supervision.fence_table, spec.app_table.application_name, owner)
        try:
            released = release_leases(client, spec.app_table.application_name)
        except ClientError:
            released = 0
        if released:
            say(f"{old.pipeline}: released {released} lease(s) of the stopped driver")

    def _check_fence_free(self, client: Any) -> None:
        spec = self.spec()
        holder = fence.current(client, spec.supervision.fence_table, spec.app_table.application_name)
        if holder is not None and holder[1] > time.time():
            renewed = fence.FENCE_TTL_SECONDS - (holder[1] - time.time())
            raise LaunchError(
                f"{spec.name}: application {spec.app_table.application_name!r} already has a "
                f"running driver ({holder[0]}, fence renewed {renewed:.0f} s ago); "
                "stop it first (the stop job or `kinesis-pipelines stop`)"
            )

    def wait_started(self, record: DriverRecord, say: Progress) -> dict[str, Any]:
        deadline = time.monotonic() + self.start_timeout_seconds
        launcher = self.launcher()
        next_note = time.monotonic() + 5
        while time.monotonic() < deadline:
            info = _read_info(record.info_file)
            if info:
                return info
            status = launcher.status(record)
            if status.state is not DriverState.RUNNING:
                raise LaunchError(
                    f"the driver of {record.pipeline} exited ({status.state.value}, exit code "
                    f"{status.exit_code}) before starting; its log ends:\n{_tail(record.log_path)}"
                )
            if time.monotonic() > next_note:
                say(f"{record.pipeline}: waiting for the driver to start")
                next_note = time.monotonic() + 5
            time.sleep(0.3)
        launcher.kill(record)
        raise LaunchError(
            f"the driver of {record.pipeline} did not start within "
            f"{self.start_timeout_seconds:.0f} s; killed it. Log:\n{_tail(record.log_path)}"
        )

    def stop(self, progress: Progress | None = None) -> DriverStatus | None:
        record = self.current()
        if record is None:
            return None
        (progress or (lambda _m: None))(f"{record.pipeline}: stopping gracefully")
        return self.launcher().stop_gracefully(record, timeout=self.stop_timeout_seconds)

    def streaming_statistics(self, timeout: float = 3.0) -> dict[str, Any] | None:
        """The driver's /streaming/statistics, or None while it has none to give."""
        return self.monitoring("streaming/statistics", timeout)

    def last_completed_batch(self) -> str | None:
        batches = self.monitoring("streaming/batches?status=COMPLETED", 3.0)
        return batches[0]["batchTime"] if batches else None

    def monitoring(self, path: str, timeout: float) -> Any:
        """GET a path of the driver's monitoring API (Spark's REST API on the driver UI port)."""
        record = self.current()
        if record is None:
            return None
        info = _read_info(record.info_file)
        if not info:
            return None
        url = f"{record.ui_url}/api/v1/applications/{info['application_id']}/{path}"
        try:
            response = requests.get(url, timeout=timeout)
        except requests.RequestException:
            return None
        return response.json() if response.ok else None


def _read_info(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _tail(path: str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
