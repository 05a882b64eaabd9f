"""`kinesis-pipelines`: a thin command line over the library. Each command turns its options into
one library call and returns what came of it: the text a person reads, or with --json one JSON
object on one line. Results go to stdout and nothing else does; progress, notes and errors go to
stderr. Only the package's own errors are caught, printed plainly, and exit with the code of
their kind (`ExitCode`); docs/cli.md is the reference of every command."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from pydantic_core import to_jsonable_python

from kinesis_pipelines import versions
from kinesis_pipelines.errors import KinesisPipelinesError, PlanError, SpecError
from kinesis_pipelines.planning.health import Health, LagHealth, classify_lag
from kinesis_pipelines.spec import PipelineSpec

if TYPE_CHECKING:
    from kinesis_pipelines.operations.status import PipelineStatus

# Commands that read or write the state home: each says at its start where that is.
STATEFUL_COMMANDS = {
    "plan", "deploy", "stop", "restart", "status", "logs", "rebalance", "dead-letters", "local-aws", "demo"
}  # fmt: skip


class ExitCode(IntEnum):
    """What a command's exit status means; the same table is in docs/cli.md."""

    OK = 0  # the command did what was asked (status: the pipeline is healthy)
    FAILED = 1  # the operation failed: AWS refused, a driver did not start, a check found problems
    USAGE = 2  # a usage error or an invalid spec: fix the command line or the spec
    UNHEALTHY = 3  # status: stalled, failed, stopped though wanted running, or lag over (or unknown)
    NOT_RUNNING = 4  # status: stopped on the operator's request, or never deployed
    INTERRUPTED = 130  # Ctrl-C or SIGTERM: what the command started was stopped


def exit_code_for(error: KinesisPipelinesError) -> ExitCode:
    """A spec that is malformed or cannot run as written is the caller's to fix (2); everything
    else is the operation failing (1)."""
    return ExitCode.USAGE if isinstance(error, SpecError | PlanError) else ExitCode.FAILED


def status_exit_code(status: PipelineStatus) -> ExitCode:
    """Pure: `status`'s exit code, so a shell `if` and a monitoring probe read the health."""
    if not status.deployed or (status.health == Health.STOPPED.value and status.intent == "stopped"):
        return ExitCode.NOT_RUNNING
    if status.health != Health.HEALTHY.value:
        return ExitCode.UNHEALTHY
    lag = classify_lag(status.lag_ms_per_shard, status.lag_limit_ms, status.lag_unknown)
    return ExitCode.OK if lag.health is LagHealth.WITHIN else ExitCode.UNHEALTHY


class UsageError(Exception):
    """The command line is wrong (argparse's errors, and options that do not go together)."""

    def __init__(self, message: str, usage: str = ""):
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are raised, so that --json can report them as an object."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}", self.format_usage())


@dataclass(frozen=True)
class Result:
    """What a command came to: `data` is its --json object (a dict or a pydantic model), `text`
    what a person reads (printed as is), `code` its exit code."""

    data: Any
    text: str = ""
    code: ExitCode = ExitCode.OK


@dataclass(frozen=True)
class Console:
    """Where a command writes: results to `out`, progress and notes to `err`."""

    out: TextIO
    err: TextIO

    def say(self, message: str) -> None:
        print(message, file=self.err, flush=True)

    def emit(self, result: Result, as_json: bool) -> None:
        if as_json:
            line = json.dumps(to_jsonable_python(result.data), separators=(",", ":"))
            self.out.write(line + "\n")
        elif result.text:
            self.out.write(result.text if result.text.endswith("\n") else result.text + "\n")
        self.out.flush()


def load_spec(path: Path) -> PipelineSpec:
    """Load a spec and import its processor, so every error names the file."""
    from kinesis_pipelines.spec.validation import validate_pipeline_file

    return validate_pipeline_file(path)


def rows(pairs: Sequence[tuple[str, object]], width: int = 16) -> str:
    """Aligned `label value` lines."""
    return "".join(f"{label:<{width}}{value}\n" for label, value in pairs)


def cmd_validate(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines.spec.validation import check_pipelines_apart

    specs = [load_spec(path) for path in args.spec]
    check_pipelines_apart(specs, [str(path) for path in args.spec])
    found = [
        {"file": str(path), "pipeline": spec.name, "stream": spec.stream.name}
        for path, spec in zip(args.spec, specs, strict=True)
    ]
    text = "".join(f"{f['file']}: ok: pipeline {f['pipeline']} reads {f['stream']}\n" for f in found)
    return Result({"ok": True, "pipelines": found}, text)


def cmd_plan(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    report = operations.plan(spec, backends, write_files=args.write_files)
    rebalance_plan = _rebalance_preview(spec, backends) if report.stream_exists else None
    data = {**report.model_dump(mode="json"), "rebalance": rebalance_plan}
    exists = {True: "exists", False: "would be created", None: "unknown"}[report.stream_exists]
    pairs: list[tuple[str, object]] = [
        ("pipeline", report.pipeline),
        ("stream", f"{report.stream} ({exists})"),
        ("open shards", f"{report.open_shards} (from {report.shards_source})"),
        ("app table", report.application_table),
        ("receivers", report.receivers),
        ("cores", f"{report.cores} on {report.master}"),
        ("why", report.reason),
        ("generation", report.generation),
        ("assembly jar", report.assembly_jar),
        ("spark-submit", report.spark_submit),
        ("credentials", report.credentials),
        ("files", f"{', '.join(report.files)}{' (written)' if report.files_written else ''}"),
    ]
    if rebalance_plan is not None:
        pairs.append(("rebalance", f"{rebalance_plan.action}: {rebalance_plan.reason}"))
    pairs.extend(("note", note) for note in report.notes)
    return Result(data, rows(pairs))


def _rebalance_preview(spec: PipelineSpec, backends: Any) -> Any:
    """What the rebalance schedule would do now (a dry run), or None if it cannot tell."""
    from kinesis_pipelines import operations

    try:
        return operations.rebalance(spec, backends, now=time.time(), dry_run=True).plan
    except KinesisPipelinesError:
        return None


def cmd_deploy(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations
    from kinesis_pipelines.operations import startup

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    before = startup.lease_counters(backends)  # none before the first deploy
    deployment = operations.deploy(spec, backends, reset_app_table=args.reset_app_table, progress=console.say)
    result = deployment.job
    assert result.record is not None
    waited = startup.wait_after_deploy(
        backends, before, result.action, deployment.stream.open_shards, progress=console.say
    )
    warnings = [waited] if isinstance(waited, str) else []
    for warning in warnings:
        console.say(f"warning: {warning}")
    text = f"{result.action}: {result.record.driver_id} ({result.reason}); UI {result.record.ui_url}"
    code = ExitCode.FAILED if result.action == "refused" else ExitCode.OK
    return Result({**deployment.model_dump(mode="json"), "warnings": warnings}, text, code)


def cmd_stop(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations
    from kinesis_pipelines.launch import DriverState

    spec = load_spec(args.spec)
    status = operations.stop(spec, operations.backends_for(spec), by="cli", progress=console.say)
    data = {"pipeline": spec.name, "driver": status}
    if status is None:
        return Result(data, "driver: never deployed")
    detail = f" ({status.detail})" if status.detail else ""
    # a driver that still runs, or runs where this host cannot see it, was not stopped
    stopped = status.state in (DriverState.FINISHED, DriverState.FAILED)
    if status.state is DriverState.FAILED:  # killed at the stop's timeout, or failed before it
        detail += (
            "; not a clean stop: records it had received and not delivered stay in its checkpoint, "
            "and the next deploy of this spec delivers them"
        )
    return Result(data, f"driver: {status.state.value}{detail}", ExitCode.OK if stopped else ExitCode.FAILED)


def cmd_status(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations
    from kinesis_pipelines.operations.status import pipeline_status, render_status

    spec = load_spec(args.spec)
    status = pipeline_status(spec, operations.backends_for(spec))
    code = status_exit_code(status)
    if code is not ExitCode.OK:
        console.say(f"status exits {int(code)} ({code.name.lower().replace('_', ' ')}): {_why(status)}")
    return Result(status, render_status(status), code)


def _why(status: PipelineStatus) -> str:
    if not status.deployed:
        return "never deployed"
    if status.health != Health.HEALTHY.value:
        return f"{status.health}: {status.reason}"
    return classify_lag(status.lag_ms_per_shard, status.lag_limit_ms, status.lag_unknown).reason


def cmd_logs(args: argparse.Namespace, console: Console) -> Result:
    """The driver's log wherever it runs (a file on this host, YARN's NodeManager); --follow
    prints what is added until the driver ends or Ctrl-C."""
    from kinesis_pipelines import operations
    from kinesis_pipelines.launch import DriverState, LocalProcessLauncher
    from kinesis_pipelines.logfiles import LogFile, TailFollower, rotated_files

    if args.json and args.follow:
        raise UsageError("--json prints the log's end once as one object; it cannot --follow")
    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    record = backends.store.driver()
    if record is None:
        console.say(f"{spec.name} was never deployed: no driver log")
        return Result({"pipeline": spec.name, "deployed": False, "lines": []}, code=ExitCode.FAILED)
    launcher = backends.launcher
    source: LogFile | TailFollower
    files: list[str] = [record.log_location]
    if isinstance(launcher, LocalProcessLauncher):
        source = launcher.log_file(record)
        files = [str(path) for path in reversed(rotated_files(Path(record.log_location)))] + files
    else:
        source = TailFollower(lambda: launcher.logs(record))
    lines = source.tail().splitlines()
    shown = lines[-args.lines :] if args.lines else lines
    if args.json:
        data = {"pipeline": spec.name, "driver_id": record.driver_id, "backend": record.backend,
                "location": record.log_location, "files": files, "lines": shown}  # fmt: skip
        return Result(data)
    console.emit(Result(None, "\n".join(shown)), as_json=False)
    while args.follow:
        time.sleep(args.poll_seconds)
        added = source.new()
        if added:
            console.out.write(added)
            console.out.flush()
        elif launcher.status(record).state is not DriverState.RUNNING:
            console.out.write(source.new())  # its last words
            console.say(f"[{spec.name}: the driver is no longer running]")
            break
    return Result(None)


def cmd_restart(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    result = operations.restart(
        spec,
        operations.backends_for(spec),
        progress=console.say,
        discard_checkpoint=args.discard_checkpoint,
    )
    if result.record is not None:
        text = f"{result.action}: {result.record.driver_id} ({result.reason}); UI {result.record.ui_url}"
    else:
        text = f"{result.action}: {result.reason}"
    return Result(result, text, ExitCode.FAILED if result.action == "refused" else ExitCode.OK)


def cmd_produce(args: argparse.Namespace, console: Console) -> Result:
    import random
    import uuid

    from kinesis_pipelines import operations
    from kinesis_pipelines.aws.errors import AWS_FAILURES, aws_error
    from kinesis_pipelines.errors import StreamMissingError
    from kinesis_pipelines.producer import put_all, unique_ids, word_lines

    spec = load_spec(args.spec)
    if args.ids:
        records = unique_ids(args.run_id or uuid.uuid4().hex[:8], args.ids)
    else:
        records = word_lines(args.lines, args.words_per_line, random.Random(args.seed))
    stream = operations.backends_for(spec).stream
    if stream.describe() is None:
        raise StreamMissingError(
            f"stream {spec.stream.name!r} does not exist; deploy the pipeline (`kinesis-pipelines "
            "deploy`) to create it"
        )
    try:
        summary = put_all(stream.client, spec.stream.name, records, rate_per_second=args.rate)
    except AWS_FAILURES as exc:  # translated here: put_all is the library's raw loop
        raise aws_error(exc, f"putting records on stream {spec.stream.name!r}", "kinesis") from exc
    data = {"stream": spec.stream.name, **summary.model_dump(mode="json")}
    return Result(data, f"put {summary.sent} records on {spec.stream.name}")


def cmd_local_aws(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines.emulators.local_aws import LocalAws, LocalAwsState, read_state

    def described(state: LocalAwsState) -> str:
        return rows([("kinesis", state.kinesis_endpoint), ("dynamodb", state.dynamodb_endpoint),
                     ("cloudwatch", state.cloudwatch_endpoint), ("region", state.region),
                     ("CA bundle", state.ca_bundle), ("data", state.data_dir)], width=12)  # fmt: skip

    if args.action == "start":
        started = LocalAws(say=console.say).start()
        data = {"running": True, **started.model_dump(mode="json", exclude={"pids"})}
        return Result(data, "embedded AWS running\n" + described(started))
    if args.action == "stop":
        LocalAws(say=console.say).stop(force=True)
        return Result({"running": False}, "embedded AWS stopped")
    state = read_state()
    running = state is not None and state.running()
    data = {"running": running, **(state.model_dump(mode="json") if state else {})}
    if state is None:
        return Result(data, "embedded AWS not running (never started here)")
    return Result(data, f"embedded AWS {'running' if running else 'not running'}\n" + described(state))


def cmd_assembly(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines.assembly.build import build_assembly
    from kinesis_pipelines.spec.runtime import installed_spark_version

    version = args.spark_version or installed_spark_version() or versions.TESTED_SPARK_VERSION
    jar = build_assembly(version, progress=console.say)
    return Result(jar, rows(list(jar.model_dump().items()), width=22))


DEMO_SUMMARY = (
    "produced", "processed", "lost", "duplicates", "duplicates_dropped_by_ledger", "shards",
    "receivers", "cores", "submit_to_leases_taken_seconds", "submit_to_first_batch_seconds",
    "submit_to_first_record_seconds", "records_per_second", "driver_exit",
)  # fmt: skip


def cmd_demo(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines.demo import run_demo

    summary = run_demo(duration=args.duration, rate=args.rate, shards=args.shards, say=console.say)
    text = "summary:\n" + rows([(f"  {key}", summary[key]) for key in DEMO_SUMMARY], width=33)
    clean = summary["lost"] == 0 and summary["duplicates"] == 0
    return Result(summary, text, ExitCode.OK if clean else ExitCode.FAILED)


def cmd_rebalance(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations

    spec = load_spec(args.spec)
    outcome = operations.rebalance(
        spec, operations.backends_for(spec), now=time.time(),
        dry_run=True if args.dry_run else None, progress=console.say,
    )  # fmt: skip
    if outcome.plan is None or outcome.metrics is None:
        return Result(outcome, rows([("skipped", outcome.skipped)]))
    plan, metrics = outcome.plan, outcome.metrics
    text = rows([
        ("action", f"{plan.action}{' (dry run)' if plan.dry_run else ''}"),
        ("why", plan.reason),
        ("shards", f"{plan.shards_before} -> {plan.shards_after} (steps {plan.steps})"),
        ("receivers", f"{plan.receivers_before} -> {plan.receivers_after}"),
        ("cores", f"{plan.cores_before} -> {plan.cores_after}"),
        ("quota left", f"{plan.quota_left} UpdateShardCount call(s) in 24 h"),
        ("metrics", f"{metrics.incoming_records_per_s:.1f} records/s, "
                    f"lag {metrics.max_lag_seconds:.1f} s ({metrics.source})"),
    ])  # fmt: skip
    # a rebalance the load calls for that cannot be made (the day's reshard quota is used up)
    return Result(outcome, text, ExitCode.FAILED if plan.action == "refused" else ExitCode.OK)


def cmd_dead_letters(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines import operations
    from kinesis_pipelines.operations import dead_letters

    spec = load_spec(args.spec)
    backends = operations.backends_for(spec)
    if args.replay:
        result = dead_letters.replay(spec, backends, progress=console.say)
        text = f"replayed {result.records} record(s) from {len(result.batches)} dead-letter batch(es)"
        return Result(result, rows([("replayed", text.removeprefix("replayed "))]))
    report = dead_letters.list_dead_letters(spec, backends)
    text = rows([("location", report.location), ("waiting", f"{report.waiting} record(s)"),
                 ("replayed", f"{report.replayed} record(s)")])  # fmt: skip
    for batch in report.batches:
        state = "replayed" if batch.replayed else "waiting"
        for reason, count in batch.reasons.items():
            text += f"  {batch.name}  {batch.kind}  {state}  {count} record(s): {reason}\n"
    return Result(report, text)


def cmd_iam(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines.operations.iam import pipeline_policies, readme_snippet

    results = [pipeline_policies(load_spec(path), args.account) for path in args.spec]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for result in results:
            for role, policy in result.policies.items():
                target = args.out / f"{result.pipeline}.{role}.json"
                target.write_text(json.dumps(policy, indent=2) + "\n")
                console.say(f"wrote {target}")
    findings = [f"{result.pipeline}: {finding}" for result in results for finding in result.findings]
    for finding in findings:
        console.say(f"lint: {finding}")
    for note in sorted({note for result in results for note in result.notes}):
        console.say(f"note: {note}")
    text = "\n".join(readme_snippet(result) for result in results)
    data = {"pipelines": results, "findings": findings}
    return Result(data, text, ExitCode.FAILED if findings else ExitCode.OK)


def cmd_schema(args: argparse.Namespace, console: Console) -> Result:
    from kinesis_pipelines.components.schema import render_schema, write_schema

    if args.write:
        written = write_schema()
        return Result({"wrote": str(written)}, f"wrote {written}")
    text = render_schema()
    return Result(json.loads(text), text)


def build_parser() -> argparse.ArgumentParser:
    from kinesis_pipelines import __version__, versions

    parser = _Parser(
        prog="kinesis-pipelines",
        description="Deploy and operate Spark Streaming jobs that read Amazon Kinesis.",
        epilog="example:\n  kinesis-pipelines deploy kinesis_pipelines/defs/records/defs.yaml\n"
        "state lives in $KINESIS_PIPELINES_HOME (see docs/architecture.md: Where state lives)\n"
        "exit codes: 0 ok, 1 the operation failed, 2 usage or invalid spec, 3 status: not healthy,\n"
        "4 status: stopped on request or not deployed, 130 interrupted (docs/cli.md)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kinesis-pipelines {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, example: str, json_help: str = "") -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=summary, description=f"{summary}.", epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        p.add_argument(
            "--json",
            action="store_true",
            help=json_help or "print one JSON object on one line (progress still goes to stderr)",
        )
        return p

    spec_help = "the pipeline spec: a defs.yaml of the KinesisPipeline component, or a bare spec"

    p = command("validate", "check pipeline spec files completely; nothing touches AWS",
                "kinesis-pipelines validate kinesis_pipelines/defs/*/defs.yaml")  # fmt: skip
    p.add_argument("spec", nargs="+", type=Path, help="one or more spec files (checked together)")
    p.set_defaults(func=cmd_validate)

    p = command("plan", "what a deploy would create and submit; changes nothing",
                "kinesis-pipelines plan pipelines/orders.yaml")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
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
    p.add_argument(
        "--discard-checkpoint",
        action="store_true",
        help="if the Spark checkpoint cannot be read, set it aside and resume every shard from what the "
        "pipeline delivered (said before it starts); without it such a driver stops and changes nothing",
    )
    p.set_defaults(func=cmd_restart)

    p = command("status", "health, receivers, the last batch, lag per shard, restarts, logs and UI",
                "kinesis-pipelines status pipelines/orders.yaml --json",
                "one JSON object (for scripts); the exit code still tells the health")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.set_defaults(func=cmd_status)

    p = command("logs", "the driver's log, wherever the driver runs (this host or YARN)",
                "kinesis-pipelines logs pipelines/orders.yaml --follow",
                "one object: where the log is, its files, its last N lines (not with --follow)")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing what is added")
    p.add_argument(
        "--lines", "-n", type=int, default=200, help="show the last N lines first (200; 0: the last 2 MB)"
    )
    p.add_argument(
        "--interval",
        dest="poll_seconds",
        metavar="SECONDS",
        type=float,
        default=1.0,
        help="seconds between looks with --follow (1)",
    )
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
    p.set_defaults(func=cmd_assembly)

    p = command("rebalance", "measure, plan and apply a capacity rebalance (reshard, resize receivers)",
                "kinesis-pipelines rebalance pipelines/orders.yaml --dry-run")  # fmt: skip
    p.add_argument("spec", type=Path, help=spec_help)
    p.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
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
    p.set_defaults(func=cmd_dead_letters)

    p = command("iam", "least-privilege IAM policies per pipeline and role (orchestrator, driver, producer)",
                "kinesis-pipelines iam pipelines/orders.yaml --account 123456789012 --out iam/",
                "one JSON object: every policy and lint finding, not a Markdown snippet")  # fmt: skip
    p.add_argument("spec", type=Path, nargs="+", help="pipeline spec files")
    p.add_argument("--account", help="the 12-digit AWS account (default: credentials.role_arn's, else STS)")
    p.add_argument("--out", type=Path, help="also write <pipeline>.<role>.json into this folder")
    p.set_defaults(func=cmd_iam)

    p = command("schema", "the JSON schema of defs.yaml, from the pipeline spec",
                "kinesis-pipelines schema > defs.schema.json",
                "the schema on one line (with --write: which file was written)")  # fmt: skip
    p.add_argument("--write", action="store_true", help="update the shipped schema file")
    p.set_defaults(func=cmd_schema)

    p = command("demo", "the main job: a pipeline consuming Kinesis end to end on the embedded AWS",
                "kinesis-pipelines demo --duration 60 --rate 300 --json",
                "the summary as one JSON object; the progress goes to stderr")  # fmt: skip
    p.add_argument("--duration", type=float, default=30.0, help="seconds of producing (30)")
    p.add_argument("--rate", type=float, default=200.0, help="records per second (200)")
    p.add_argument("--shards", type=int, default=2, help="shards of the demo stream (2)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    console = Console(out=sys.stdout, err=sys.stderr)
    as_json = "--json" in arguments  # known before parsing, so a usage error is an object too
    # SIGTERM unwinds like Ctrl-C, so an interrupted demo stops the servers and driver it started.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        args = build_parser().parse_args(arguments)
        if args.command in STATEFUL_COMMANDS:
            from kinesis_pipelines.home import describe_state_home

            console.say(describe_state_home())
        # whatever the library prints on its own is a note: stdout carries the result alone
        with contextlib.redirect_stdout(console.err):
            result = args.func(args, console)
        console.emit(result, as_json)
    except UsageError as exc:
        return _fail(console, as_json, ExitCode.USAGE, exc, f"{exc.usage}{exc}")
    except KinesisPipelinesError as exc:
        return _fail(console, as_json, exit_code_for(exc), exc, f"error: {exc}")
    except KeyboardInterrupt:
        return _fail(console, as_json, ExitCode.INTERRUPTED, KeyboardInterrupt("interrupted"), "interrupted")
    except BrokenPipeError:  # the reader of stdout went away (`logs --follow | head`)
        _quiet_stdout()
        return int(ExitCode.OK)
    return int(result.code)


def _fail(console: Console, as_json: bool, code: ExitCode, error: BaseException, text: str) -> int:
    """The error in plain words on stderr; with --json also one object on stdout."""
    console.say(text.rstrip("\n"))
    if as_json:
        data = {"error": str(error), "kind": type(error).__name__, "exit_code": int(code)}
        console.emit(Result(data), as_json=True)
    return int(code)


def _quiet_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's last flush is silent."""
    if sys.stdout is sys.__stdout__:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
