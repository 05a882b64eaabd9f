"""Submit-to-first-batch through the package vs a hand-typed spark-submit of the same app.

    .venv/bin/python bench/overhead.py

Both runs start the same receiver application on the same stream; "first batch" is the first
completed batch reported by the driver's monitoring API. The package's time includes planning,
reading the stream's shards, the lease-table check and the assembly cache lookup.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import first_batch, isolated_home
from kinesis_pipelines import operations
from kinesis_pipelines.assembly.build import build_assembly
from kinesis_pipelines.aws import resolve_connection
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.launch import DriverRecord, LocalProcessLauncher
from kinesis_pipelines.launch.submit import build_submit_request
from kinesis_pipelines.operations.deploy import receiver_plan
from kinesis_pipelines.processes import free_port
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import runtime_with, spark_of


def spec_for(name: str) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": name,
            "stream": {"name": "bench-oh", "endpoint_url": "embedded", "shards": 2},
            "app_table": {"application_name": f"bench-{name}", "endpoint_url": "embedded"},
            "cloudwatch_endpoint_url": "embedded",
            "job": {"checkpoint_dir": "cp", "sink": {"path": f"out-{name}"}, "executor_cores": 3},
        }
    )


def main() -> None:
    isolated_home()
    with LocalAws():
        jar = build_assembly()
        # Hand-typed: the exact argv and env the package would run, started directly.
        hand = spec_for("by_hand")
        hand_backends = operations.backends_for(hand)
        stream = hand_backends.stream.ensure_stream()
        hand_backends.app_table.ensure_table(stream.all_shards, hand_backends.stream.oldest_sequence_number)
        plan = receiver_plan(hand, len(stream.open_shards))
        request = build_submit_request(
            hand,
            plan,
            resolve_connection(hand),
            jar.path,
            ui_port=free_port(),
            control_root=str(hand_backends.store.root / "generations"),
            files_root=hand_backends.store.root / "generations",
            runtime=runtime_with(hand, spark_of(hand)),
        )
        # The launcher writes request.files (the job file, the region override) into
        # request.control_dir before it starts spark-submit.
        launcher = LocalProcessLauncher()
        t0 = time.monotonic()
        record: DriverRecord = launcher.submit(request)
        hand_seconds = first_batch(record.ui_url) - t0
        launcher.stop_gracefully(record, 60)

        packaged = spec_for("packaged")
        backends = operations.backends_for(packaged)
        t0 = time.monotonic()
        deployment = operations.deploy(packaged, backends)
        assert deployment.job.record is not None, deployment.job
        package_seconds = first_batch(deployment.job.record.ui_url) - t0
        operations.stop(packaged, backends, by="bench")
    print(f"hand-typed spark-submit   {hand_seconds:.2f} s to first batch")
    print(f"kinesis-pipelines deploy  {package_seconds:.2f} s to first batch")
    print(f"ratio package/hand        {package_seconds / hand_seconds:.2f}")


if __name__ == "__main__":
    main()
