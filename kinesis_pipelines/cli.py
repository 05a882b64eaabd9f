"""`kinesis-pipelines`: a thin command line over the library. Each command is one library call;
only the package's own errors are caught, printed plainly, with exit code 2."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kinesis_pipelines import versions
from kinesis_pipelines.errors import KinesisPipelinesError
from kinesis_pipelines.spec import PipelineSpec

# Commands that read or write the state home: each says at its start where that is.
STATEFUL_COMMANDS = {
    "plan", "deploy", "stop", "restart", "status", "logs", "rebalance", "dead-letters", "local-aws", "demo"
}  # fmt: skip


def load_spec(path: Path) -> PipelineSpec:
    """Load a spec and import its processor, so every error names the file."""
    from kinesis_pipelines.validation import validate_pipeline_file

    return validate_pipeline_file(path)


def _say(quiet: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not quiet:
            print(message, flush=True)

    return say


def cmd_validate(args: argparse.Namespace) -> int:
    from kinesis_pipelines.validation import check_pipelines_apart

    specs = [load_spec(path) for path in args.spec]
    check_pipelines_apart(specs, [str(path) for path in args.spec])
    for path, spec in zip(args.spec, specs, strict=True):
        print(f"{path}: ok: pipeline {spec.name} reads {spec.stream.name}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    report = operations.plan(spec, backends, write_files=args.write_files)
    rebalance_plan = _rebalance_preview(spec, backends) if report.stream_exists else None
    if args.json:
        out = report.model_dump()
        out["rebalance"] = rebalance_plan.model_dump() if rebalance_plan else None
        print(json.dumps(out))
        return 0
    print(f"pipeline        {report.pipeline}")
    exists = {True: "exists", False: "would be created", None: "unknown"}[report.stream_exists]
    print(f"stream          {report.stream} ({exists})")
    print(f"open shards     {report.open_shards} (from {report.shards_source})")
    print(f"app table       {report.application_table}")
    print(f"receivers       {report.receivers}")
    print(f"cores           {report.cores} on {report.master}")
    print(f"why             {report.reason}")
    print(f"generation      {report.generation}")
    print(f"assembly jar    {report.assembly_jar}")
    print(f"spark-submit    {report.spark_submit}")
    print(f"credentials     {report.credentials}")
    print(f"files           {', '.join(report.files)}{' (written)' if report.files_written else ''}")
    if rebalance_plan is not None:
        print(f"rebalance       {rebalance_plan.action}: {rebalance_plan.reason}")
    for note in report.notes:
        print(f"note            {note}")
    return 0


def _rebalance_preview(spec: PipelineSpec, backends: Any) -> Any:
    """What the rebalance schedule would do now (a dry run), or None if it cannot tell."""
    import time

    from kinesis_pipelines import operations

    try:
        return operations.rebalance(spec, backends, now=time.time(), dry_run=True).plan
    except KinesisPipelinesError:
        return None


def cmd_deploy(args: argparse.Namespace) -> int:
    from kinesis_pipelines import operations
    from kinesis_pipelines.operations import startup

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    say = _say(False)
    before = startup.lease_counters(backends)  # none before the first deploy
    deployment = operations.deploy(spec, backends, reset_app_table=args.reset_app_table, progress=say)
    result = deployment.job
    assert result.record is not None
    if result.action != "unchanged":
        try:
            startup.wait_for_leases(backends, deployment.stream.open_shards, before, progress=say, timeout=90)
        except TimeoutError as exc:
            say(f"warning: {exc}")
    print(f"{result.action}: {result.record.driver_id} ({result.reason}); UI {result.record.ui_url}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    status = operations.stop(spec, operations.backends_for(spec), by="cli", progress=_say(False))
    print(f"driver: {status.state.value if status else 'never deployed'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from kinesis_pipelines import operations
    from kinesis_pipelines.operations.status import pipeline_status, render_status

    spec = load_spec(args.spec)
    status = pipeline_status(spec, operations.backends_for(spec))
    print(status.model_dump_json() if args.json else render_status(status), end="\n" if args.json else "")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """The driver's log wherever it runs (a file on this host, YARN's NodeManager); --follow
    prints what is added until the driver ends or Ctrl-C."""
    import time

    from kinesis_pipelines import operations
    from kinesis_pipelines.launch import DriverState

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    record = backends.store.driver()
    if record is None:
        print(f"{spec.name} was never deployed: no driver log", file=sys.stderr)
        return 1
    text = backends.launcher.logs(record)
    lines = text.splitlines()
    print("\n".join(lines[-args.lines :]) if args.lines else text, flush=True)
    seen = len(text)
    while args.follow:
        time.sleep(1.0)
        text = backends.launcher.logs(record)
        if len(text) < seen:  # the log was rotated or a new attempt began
            seen = 0
        if len(text) > seen:
            print(text[seen:], end="", flush=True)
            seen = len(text)
        elif backends.launcher.status(record).state is not DriverState.RUNNING:
            print(f"\n[{spec.name}: the driver is no longer running]", file=sys.stderr)
            break
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    result = operations.restart(
        spec,
        operations.backends_for(spec),
        progress=_say(args.json),
        discard_checkpoint=args.discard_checkpoint,
    )
    if args.json:
        print(result.model_dump_json())
    elif result.record is not None:
        print(f"{result.action}: {result.record.driver_id} ({result.reason}); UI {result.record.ui_url}")
    else:
        print(f"{result.action}: {result.reason}")
    return 0 if result.action != "refused" else 1


def cmd_produce(args: argparse.Namespace) -> int:
    import random
    import uuid

    from kinesis_pipelines import operations
    from kinesis_pipelines.producer import put_all, unique_ids, word_lines

    spec = load_spec(args.spec)
    if args.ids:
        records = unique_ids(args.run_id or uuid.uuid4().hex[:8], args.ids)
    else:
        records = word_lines(args.lines, args.words_per_line, random.Random(args.seed))
    client = operations.backends_for(spec).stream.client
    summary = put_all(client, spec.stream.name, records, rate_per_second=args.rate)
    print(f"put {summary.sent} records on {spec.stream.name}")
    return 0


def cmd_local_aws(args: argparse.Namespace) -> int:
    from kinesis_pipelines.emulators.local_aws import LocalAws, read_state

    if args.action == "start":
        started = LocalAws().start()
        print(started.model_dump_json(indent=2, exclude={"pids"}))
    elif args.action == "stop":
        LocalAws().stop(force=True)
        print("embedded AWS stopped")
    else:
        state = read_state()
        running = state is not None and state.running()
        print(json.dumps({"running": running, **(state.model_dump() if state else {})}, indent=2))
    return 0


def cmd_assembly(args: argparse.Namespace) -> int:
    from kinesis_pipelines.assembly.build import build_assembly
    from kinesis_pipelines.tools import find_spark

    spark = find_spark()
    version = args.spark_version or (spark.version if spark else versions.TESTED_SPARK_VERSION)
    jar = build_assembly(version, progress=_say(args.json))
    print(jar.model_dump_json(indent=None if args.json else 2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from kinesis_pipelines.demo import run_demo

    summary = run_demo(duration=args.duration, rate=args.rate, shards=args.shards, say=_say(False))
    print("\nsummary:")
    for key in (
        "produced",
        "processed",
        "lost",
        "duplicates",
        "duplicates_dropped_by_ledger",
        "shards",
        "receivers",
        "cores",
        "submit_to_leases_taken_seconds",
        "submit_to_first_batch_seconds",
        "submit_to_first_record_seconds",
        "records_per_second",
        "driver_exit",
    ):
        print(f"  {key:<31} {summary[key]}")
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["lost"] == 0 and summary["duplicates"] == 0 else 1


def cmd_rebalance(args: argparse.Namespace) -> int:
    import time

    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    outcome = operations.rebalance(
        spec, operations.backends_for(spec), now=time.time(),
        dry_run=True if args.dry_run else None, progress=_say(args.json),
    )  # fmt: skip
    if args.json:
        print(outcome.model_dump_json())
        return 0
    if outcome.plan is None or outcome.metrics is None:
        print(f"skipped         {outcome.skipped}")
        return 0
    plan = outcome.plan
    print(f"action          {plan.action}{' (dry run)' if plan.dry_run else ''}")
    print(f"why             {plan.reason}")
    print(f"shards          {plan.shards_before} -> {plan.shards_after} (steps {plan.steps})")
    print(f"receivers       {plan.receivers_before} -> {plan.receivers_after}")
    print(f"cores           {plan.cores_before} -> {plan.cores_after}")
    print(f"quota left      {plan.quota_left} UpdateShardCount call(s) in 24 h")
    print(
        f"metrics         {outcome.metrics.incoming_records_per_s:.1f} records/s, "
        f"lag {outcome.metrics.max_lag_seconds:.1f} s ({outcome.metrics.source})"
    )
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from kinesis_pipelines import operations
    from kinesis_pipelines.operations import dead_letters

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    if args.replay:
        result = dead_letters.replay(spec, backends, progress=_say(args.json))
        if args.json:
            print(result.model_dump_json())
        else:
            print(
                f"replayed        {result.records} record(s) from {len(result.batches)} dead-letter batch(es)"
            )
        return 0
    report = dead_letters.list_dead_letters(spec, backends)
    if args.json:
        print(report.model_dump_json())
        return 0
    print(f"location        {report.location}")
    print(f"waiting         {report.waiting} record(s)")
    print(f"replayed        {report.replayed} record(s)")
    for batch in report.batches:
        state = "replayed" if batch.replayed else "waiting"
        for reason, count in batch.reasons.items():
            print(f"  {batch.name}  {batch.kind}  {state}  {count} record(s): {reason}")
    return 0


def cmd_iam(args: argparse.Namespace) -> int:
    from kinesis_pipelines.operations.iam import pipeline_policies, readme_snippet

    results = [pipeline_policies(load_spec(path), args.account) for path in args.spec]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for result in results:
            for role, policy in result.policies.items():
                target = args.out / f"{result.pipeline}.{role}.json"
                target.write_text(json.dumps(policy, indent=2) + "\n")
                print(f"wrote {target}", file=sys.stderr)
    if args.json:
        print(json.dumps([result.model_dump() for result in results]))
    else:
        print("\n".join(readme_snippet(result) for result in results))
    findings = [f"{result.pipeline}: {finding}" for result in results for finding in result.findings]
    for finding in findings:
        print(f"lint: {finding}", file=sys.stderr)
    return 1 if findings else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from kinesis_pipelines.components.schema import render_schema, write_schema

    if args.write:
        print(f"wrote {write_schema()}")
    else:
        print(render_schema(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from kinesis_pipelines import __version__, versions

    parser = argparse.ArgumentParser(
        prog="kinesis-pipelines",
        description="Deploy and operate Spark Streaming jobs that read Amazon Kinesis.",
        epilog="example:\n  kinesis-pipelines deploy kinesis_pipelines/defs/records/defs.yaml\n"
        "state lives in $KINESIS_PIPELINES_HOME (see README: Where state lives)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kinesis-pipelines {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=summary, description=f"{summary}.", epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip

    spec_help = "the pipeline spec: a defs.yaml of the KinesisPipeline component, or a bare spec"

    p = command("validate", "check pipeline spec files completely; nothing touches AWS",
                "kinesis-pipelines validate kinesis_pipelines/defs/*/defs.yaml")  # fmt: skip
    p.add_argument("spec", nargs="+", type=Path, help="one or more spec files (checked together)")
    p.set_defaults(func=cmd_validate)

    p = command("plan", "what a deploy would create and submit; changes nothing",
                "kinesis-pipelines plan pipelines/orders.yaml")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument(
        "--write-files",
        action="store_true",
        help="write the files the spark-submit line reads, so it runs by hand as printed",
    )
    p.set_defaults(func=cmd_plan)

    p = command("deploy", "create what is missing (stream, lease table, assembly) and run the job",
                "kinesis-pipelines deploy pipelines/orders.yaml")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument(
        "--reset-app-table",
        action="store_true",
        help="recreate a lease table that does not match the stream (forgets positions)",
    )
    p.set_defaults(func=cmd_deploy)

    p = command("stop", "stop the streaming job gracefully (a last batch, then exit)",
                "kinesis-pipelines stop pipelines/orders.yaml")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.set_defaults(func=cmd_stop)

    p = command("restart", "replace the driver from its Spark checkpoint, as the Dagster restart job does",
                "kinesis-pipelines restart pipelines/orders.yaml")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument(
        "--discard-checkpoint",
        action="store_true",
        help="if the Spark checkpoint cannot be read, set it aside and resume every shard from what the "
        "pipeline delivered (said before it starts); without it such a driver stops and changes nothing",
    )
    p.set_defaults(func=cmd_restart)

    p = command("status", "health, receivers, the last batch, lag per shard, restarts, logs and UI",
                "kinesis-pipelines status pipelines/orders.yaml --json")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--json", action="store_true", help="one JSON object (for scripts) instead of text")
    p.set_defaults(func=cmd_status)

    p = command("logs", "the driver's log, wherever the driver runs (this host or YARN)",
                "kinesis-pipelines logs pipelines/orders.yaml --follow")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing what is added")
    p.add_argument("--lines", "-n", type=int, default=200, help="show the last N lines first (200; 0: all)")
    p.set_defaults(func=cmd_logs)

    p = command("produce", "put test records on the pipeline's stream",
                "kinesis-pipelines produce pipelines/orders.yaml --ids 1000 --rate 100")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--ids", type=int, help="put N unique, checkable ids")
    group.add_argument("--lines", type=int, default=100, help="lines of random words (default)")
    p.add_argument("--words-per-line", type=int, default=10, help="words in each line (10)")
    p.add_argument(
        "--rate", type=float, default=None, help="records per second (default: as fast as possible)"
    )
    p.add_argument("--run-id", default=None, help="prefix of the ids, to tell runs apart (default: random)")
    p.add_argument("--seed", type=int, default=None, help="seed of the random words (default: random)")
    p.set_defaults(func=cmd_produce)

    p = command("local-aws", "the embedded local AWS (Kinesis, DynamoDB, CloudWatch, STS)",
                "kinesis-pipelines local-aws start")  # fmt: skip
    p.add_argument("action", choices=["start", "stop", "status"], help="start, stop or show it")
    p.set_defaults(func=cmd_local_aws)

    p = command("assembly", "build (or find cached) the kinesis-asl assembly jar",
                "kinesis-pipelines assembly --spark-version 3.5.4")  # fmt: skip
    p.add_argument(
        "--spark-version",
        help="Spark release (default: the Spark of SPARK_HOME or the pyspark extra, else "
        f"{versions.TESTED_SPARK_VERSION})",
    )
    p.add_argument("--json", action="store_true", help="one JSON line, no progress")
    p.set_defaults(func=cmd_assembly)

    p = command("rebalance", "measure, plan and apply a capacity rebalance (reshard, resize receivers)",
                "kinesis-pipelines rebalance pipelines/orders.yaml --dry-run")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=cmd_rebalance)

    p = command("dead-letters", "records the job could not process (not UTF-8, or a batch that kept failing)",
                "kinesis-pipelines dead-letters pipelines/orders.yaml --replay")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument(
        "--replay",
        action="store_true",
        help="put the records not yet replayed back on the stream once the cause is fixed; it writes to "
        "the stream, so it needs the producer's kinesis:PutRecords (the orchestrator's policy has none)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=cmd_dead_letters)

    p = command("iam", "least-privilege IAM policies per pipeline and role (orchestrator, driver, producer)",
                "kinesis-pipelines iam pipelines/orders.yaml --account 123456789012 --out iam/")  # fmt: skip
    p.add_argument("spec", type=Path, nargs="+", help="pipeline spec files")
    p.add_argument("--account", help="the 12-digit AWS account (default: credentials.role_arn's, else STS)")
    p.add_argument("--out", type=Path, help="also write <pipeline>.<role>.json into this folder")
    p.add_argument("--json", action="store_true", help="JSON instead of a Markdown snippet")
    p.set_defaults(func=cmd_iam)

    p = command("schema", "the JSON schema of defs.yaml, from the pipeline spec",
                "kinesis-pipelines schema > defs.schema.json")  # fmt: skip
    p.add_argument("--write", action="store_true", help="update the shipped schema file")
    p.set_defaults(func=cmd_schema)

    p = command("demo", "the main job: a pipeline consuming Kinesis end to end on the embedded AWS",
                "kinesis-pipelines demo --duration 60 --rate 300 --json")  # fmt: skip
    p.add_argument("--duration", type=float, default=30.0, help="seconds of producing (30)")
    p.add_argument("--rate", type=float, default=200.0, help="records per second (200)")
    p.add_argument("--shards", type=int, default=2, help="shards of the demo stream (2)")
    p.add_argument("--json", action="store_true", help="end with one JSON summary line")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so an interrupted demo stops the servers and driver it started.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    if args.command in STATEFUL_COMMANDS:
        from kinesis_pipelines.home import describe_state_home

        print(describe_state_home(), file=sys.stderr)  # stderr: --json output stays one line
    try:
        return int(args.func(args))
    except KinesisPipelinesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
