"""The Spark receiver job of a pipeline: plan, submit, replace, stop."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import requests
from pydantic import BaseModel, ConfigDict, Field

from kinesis_pipelines.aws import resolve_connection
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
    ) -> DeployResult:
        """Run the job for the current spec: nothing if that exact generation already runs,
        else stop the running one gracefully and start the new generation. With `restart`, a
        running driver of the same generation is stopped and started again from its Spark
        checkpoint (same directory, same KCL application)."""
        say = progress or (lambda _m: None)
        spec = self.spec()
        check_processor(spec.job.processor)
        plan = self.plan(open_shards)
        connection = resolve_connection(spec)
        request, config, override = build_submit_request(
            spec, plan, connection, assembly_jar, ui_port=free_port()
        )
        launcher = self.launcher()
        existing = self.current()
        replaced = None
        if existing is not None and launcher.status(existing).state is DriverState.RUNNING:
            if existing.generation == request.generation and not restart:
                say(f"{spec.name}: generation {existing.generation} already running; unchanged")
                info = _read_info(existing.info_file)
                return DeployResult(
                    action="unchanged",
                    record=existing,
                    plan=plan,
                    application_id=info.get("application_id"),
                    ui_url=existing.ui_url,
                    checkpoint_dir=existing.checkpoint_dir,
                )
            say(f"{spec.name}: stopping generation {existing.generation} gracefully")
            launcher.stop_gracefully(existing, timeout=self.stop_timeout_seconds)
            replaced = existing.generation
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
        info = self.wait_started(record, say)
        if replaced == request.generation:
            action = "restarted"
        elif replaced:
            action = "replaced"
        else:
            action = "restarted" if restart and existing is not None else "started"
        return DeployResult(
            action=action,
            record=record,
            plan=plan,
            application_id=info.get("application_id"),
            ui_url=record.ui_url,
            checkpoint_dir=config.checkpoint_dir,
            replaced_generation=replaced,
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

    def streaming_statistics(self) -> dict[str, Any] | None:
        """The driver's /streaming/statistics, or None while it has none to give."""
        record = self.current()
        if record is None:
            return None
        info = _read_info(record.info_file)
        if not info:
            return None
        url = f"{record.ui_url}/api/v1/applications/{info['application_id']}/streaming/statistics"
        try:
            response = requests.get(url, timeout=3)
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
