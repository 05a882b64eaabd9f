"""The Spark Streaming application that spark-submit runs: N Kinesis receivers, unioned, the
delivery ledger (each record once, see delivery.py), the user's processor, an idempotent per-batch
sink; recovery through `StreamingContext.getOrCreate`
and a graceful stop when the stop marker appears.

    spark-submit ... receiver_app.py --job-file <control dir>/job.json
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from kinesis_pipelines.app import control, dead_letters, delivery
from kinesis_pipelines.app.config import DriverConfig
from kinesis_pipelines.app.fencing import (
    FenceKeeper,
    fence_client,
    fence_identity,
    register_keeper,
    take_fence,
)
from kinesis_pipelines.app.sinks import BatchOutput, sink_writer, undecodable_writer
from kinesis_pipelines.app.storage import JobFiles, files_for, join
from kinesis_pipelines.aws import fence
from kinesis_pipelines.aws.connection import make_client
from kinesis_pipelines.aws.rewind import advance_leases, rewind_leases
from kinesis_pipelines.errors import KinesisPipelinesError

STOP_POLL_SECONDS = 0.5
UNUSABLE_CHECKPOINT_EXIT_CODE = 4  # the checkpoint cannot be read and may not be set aside
STOP_CUT_OFF_EXIT_CODE = 5  # a graceful stop ended by its timeout: not drained


def load_processor(import_path: str) -> Any:
    module_name, _, function_name = import_path.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def keyed_streams(ssc: Any, config: DriverConfig) -> list[Any]:
    """One input DStream per receiver, each element the record's key and data (see
    `KeyedKinesisStreams` in the assembly; pyspark's own helper passes the data only)."""
    from pyspark import StorageLevel
    from pyspark.serializers import NoOpSerializer
    from pyspark.streaming import DStream

    connection = config.connection
    helper = ssc._jvm.io.kinesispipelines.spark.KeyedKinesisStreams()
    level = effective_storage_level(config.storage_level, config.write_ahead_log)
    storage_level = ssc._sc._getJavaStorageLevel(getattr(StorageLevel, level))
    return [
        DStream(
            helper.createStream(
                ssc._jssc,
                config.application_name,
                config.stream_name,
                config.kinesis_endpoint,
                config.region,
                config.initial_position,
                config.initial_timestamp_ms or 0,
                round(config.kcl_checkpoint_interval_seconds * 1000),
                storage_level,
                "DETAILED",
                connection.role_arn,
                connection.session_name,
                connection.external_id_env,  # the variable's name: the id never enters the checkpoint
                connection.sts_url() if connection.role_arn else None,
                connection.session_duration_seconds,
            ),
            ssc,
            NoOpSerializer(),
        )
        for _ in range(config.receivers)
    ]


def effective_storage_level(level: str, write_ahead_log: bool) -> str:
    """With the write-ahead log, the log is a received block's second copy: Spark keeps one replica
    whatever the level says (and warns about it for every receiver), so ask for one."""
    if write_ahead_log and level.endswith("_2"):
        return level.removesuffix("_2")
    return level


def build_context(config: DriverConfig) -> Any:
    """Create a fresh StreamingContext; only called when no usable checkpoint exists."""
    from pyspark import SparkConf, SparkContext
    from pyspark.streaming import StreamingContext

    conf = (
        SparkConf()
        # the write-ahead log goes with the checkpoint set below: one needs the other
        .set("spark.streaming.receiver.writeAheadLog.enable", "true" if config.write_ahead_log else "false")
        # a graceful stop (a roll) works through every batch received instead of Spark's default
        # of 10 batch intervals, past which queued batches are dropped; the orchestrator cuts off a
        # drain in which no task finishes for job.drain_timeout_seconds (operations/drain.py), so
        # Spark's own limit is only a ceiling: it would cut off a driver still at work
        .set("spark.streaming.gracefulStopTimeout", f"{GRACEFUL_STOP_CEILING_SECONDS * 1000}ms")
    )
    sc = SparkContext.getOrCreate(conf)
    # pyspark's hint says int, but a batch interval is any number of seconds
    ssc = StreamingContext(sc, config.batch_interval_seconds)  # type: ignore[arg-type]
    streams = keyed_streams(ssc, config)
    keyed = streams[0] if len(streams) == 1 else ssc.union(*streams)
    output = batch_output(config)
    kept = keyed.transform(delivery.intake_transform(config.ledger_dir, output.retained_batches))
    if config.bad_records_policy == "dead_letter":
        kept.foreachRDD(undecodable_writer(output))
        records = kept.map(dead_letters.decode_or_reason).filter(is_decoded).map(first)
    else:
        records = kept.map(dead_letters.decode_strict)
    load_processor(config.processor)(records).foreachRDD(sink_writer(output))
    ssc.checkpoint(config.checkpoint_dir)
    return ssc


def batch_output(config: DriverConfig) -> BatchOutput:
    return BatchOutput(
        pipeline=config.pipeline,
        stream=config.stream_name,
        sink_path=config.sink_path,
        dead_letter_path=config.dead_letter_path,
        ledger_dir=config.ledger_dir,
        retained_batches=(
            delivery.retained_batches(config.dedupe_window_seconds, config.batch_interval_seconds)
            if config.dedupe_window_seconds > 0
            else 0
        ),
        policy=config.bad_records_policy,
        batch_attempts=config.batch_attempts,
    )


def is_decoded(decoded: tuple[str | None, str]) -> bool:
    return decoded[0] is not None


def first(decoded: tuple[str | None, str]) -> str | None:
    return decoded[0]


def write_info(config: DriverConfig, sc: Any, recovered: bool, owner: str = "") -> None:
    info = control.DriverInfo(
        fence_owner=owner,
        application_id=sc.applicationId,
        ui_url=sc.uiWebUrl,
        generation=config.generation,
        receivers=config.receivers,
        recovered_from_checkpoint=recovered,
        started_at=time.time(),
        pid=os.getpid(),
        python=".".join(map(str, sys.version_info[:3])),
        spark_version=sc.version,
    )
    path = join(config.control_dir, control.INFO_FILE)
    files_for(path).write_text(path, info.model_dump_json())


def run(config: DriverConfig) -> int:
    from pyspark.streaming import StreamingContext

    owner, earlier = fence_identity(dict(os.environ), config.generation)
    keeper = None
    fence_table = config.fence_table
    if fence_table:
        client = fence_client(config, dict(os.environ))
        fence.ensure_fence_table(client, fence_table)
        try:
            held = take_fence(client, config, fence_table, owner, earlier)
        except fence.FenceHeld as exc:
            print(str(exc), flush=True)
            return fence.FENCED_EXIT_CODE
        keeper = FenceKeeper(client, config, fence_table, held)
        keeper.start()
        register_keeper(keeper)
    checkpoint = config.checkpoint_dir
    files = files_for(checkpoint)
    if config.superseded_before_ms is not None:
        set_aside_superseded(files, checkpoint, config.generation, config.superseded_before_ms)
    recovered = any(name.startswith("checkpoint-") for name in files.names(checkpoint))
    try:
        ssc = StreamingContext.getOrCreate(config.checkpoint_dir, lambda: build_context(config))
    except Exception as exc:
        if not recovered:
            raise
        if not config.discard_unusable_checkpoint:
            print(
                f"the Spark checkpoint {checkpoint} could not be used ({type(exc).__name__}: {exc}). "
                "It may hold records this generation received and never delivered (its write-ahead "
                "log), which KCL will not read again: nothing was changed. Fix what makes it "
                "unreadable (the log above says what), or set it aside on purpose with "
                "`kinesis-pipelines restart SPEC --discard-checkpoint`: the job then resumes every shard "
                "from what the pipeline delivered",
                flush=True,
            )
            return UNUSABLE_CHECKPOINT_EXIT_CODE
        aside = f"{checkpoint.rstrip('/')}.discarded-{int(time.time())}"
        files.rename(checkpoint, aside)
        print(
            f"the Spark checkpoint {checkpoint} could not be used ({type(exc).__name__}: {exc}); as "
            f"the operator asked (--discard-checkpoint), moved it to {aside} and started afresh from "
            "what the pipeline delivered, so what it held and never delivered is read again:",
            flush=True,
        )
        resume_from_delivered(config)
        recovered = False
        ssc = StreamingContext.getOrCreate(config.checkpoint_dir, lambda: build_context(config))
    ssc.sparkContext.setLogLevel("WARN")
    if recovered:
        print(f"recovered from the Spark checkpoint {checkpoint}", flush=True)
    else:
        print(
            f"no Spark checkpoint at {checkpoint} yet: generation {config.generation} starts afresh, "
            "KCL resuming each shard from the lease table (Spark's WARN that the checkpoint "
            "directory does not exist says the same)",
            flush=True,
        )
    # Reported before the start: a driver recovered from a checkpoint generates and runs the
    # batches it holds inside start() (minutes, when it was far behind), and meanwhile the
    # orchestrator must see a driver that is up and at work (Spark's API answers), not one that
    # never started.
    advance_to_delivered(config)
    write_info(config, ssc.sparkContext, recovered, owner)
    ssc.start()
    stop_marker = join(config.control_dir, control.STOP_MARKER)
    control_files = files_for(stop_marker)
    try:
        while not control_files.exists(stop_marker):
            if keeper is not None and keeper.lost.is_set():
                ssc.stop(stopSparkContext=True, stopGraceFully=False)
                return fence.FENCED_EXIT_CODE
            # pyspark's hints say int and None; it takes seconds and returns whether it ended
            if ssc.awaitTerminationOrTimeout(STOP_POLL_SECONDS):  # type: ignore[arg-type,func-returns-value]
                return 1  # the context ended on its own: an error already reported by Spark
        print(
            f"stop marker {stop_marker} found: stopping gracefully: the receivers stop first, then "
            "every batch they received is processed. While it stops, Spark logs 'ERROR "
            "ReceiverTracker: Deregistered receiver ... Stopped by driver' and write-ahead log close "
            "warnings, and KCL may log ShutdownException as receivers release their leases: all "
            "expected on a stop",
            flush=True,
        )
        if keeper is not None and keeper.lost.is_set():
            ssc.stop(stopSparkContext=True, stopGraceFully=False)
            return fence.FENCED_EXIT_CODE
        stop_intake(ssc, config.drain_timeout_seconds)
        limit = graceful_stop_limit_seconds(ssc.sparkContext, config.drain_timeout_seconds)
        began = time.monotonic()
        ssc.stop(stopSparkContext=True, stopGraceFully=True)
        if time.monotonic() - began >= limit:
            # Spark ends a graceful stop at its timeout as if it had finished: say it did not
            print(
                f"the graceful stop was cut off at Spark's spark.streaming.gracefulStopTimeout "
                f"({limit:.0f} s): batches this generation received may be "
                f"unprocessed; exit {STOP_CUT_OFF_EXIT_CODE}, so that a roll drains them by launching "
                "this generation again from its checkpoint",
                flush=True,
            )
            return STOP_CUT_OFF_EXIT_CODE
        return 0
    finally:
        if keeper is not None:
            keeper.done.set()
            if not keeper.lost.is_set():
                fence.release(keeper.client, keeper.table, config.application_name, owner)


SUPERSEDED_MARKER_PREFIX = "_SUPERSEDED_BEFORE_"


def set_aside_superseded(files: JobFiles, checkpoint: str, generation: str, before_ms: int) -> str | None:
    """A roll back to a generation the pipeline left earlier: every batch since went through later
    generations, so this generation's old checkpoint must not be recovered. Recovering it would
    generate again every batch time since it was left, on the same grid of batch times as the
    generations that ran meanwhile (Spark aligns batch times to the interval), and a replay of one
    of those times would overwrite what that generation delivered for it (its ledger keys, its
    output). The first driver of the roll moves the old checkpoint aside and leaves a marker; a
    driver of the same roll launched again (a relaunch, a YARN attempt) finds the marker and
    recovers what the roll's own driver wrote. Returns where the old checkpoint went, or None."""
    marker = join(checkpoint, f"{SUPERSEDED_MARKER_PREFIX}{before_ms}")
    if files.exists(marker):
        return None
    aside = None
    if files.names(checkpoint):
        aside = f"{checkpoint.rstrip('/')}.superseded-{before_ms}"
        files.rename(checkpoint, aside)
        print(
            f"generation {generation} ran before and later generations followed it: its old Spark "
            f"checkpoint is not recovered (moved to {aside}); the generation starts afresh, KCL "
            "resuming each shard from the lease table",
            flush=True,
        )
    files.make_dirs(checkpoint)
    files.write_text(marker, f"checkpoint of this roll, begun at {before_ms} ms\n")
    return aside


GRACEFUL_STOP_CEILING_SECONDS = 7 * 86400


def graceful_stop_limit_seconds(sc: Any, default: float) -> float:
    """Spark's graceful stop limit in this context: the ceiling for a generation created by this
    version; a generation recovered from an older checkpoint keeps the limit it was created with."""
    value = str(sc.getConf().get("spark.streaming.gracefulStopTimeout", "") or "")
    if value.endswith("ms") and value[:-2].isdigit():
        return int(value[:-2]) / 1000
    return default


def stop_intake(ssc: Any, timeout_seconds: float) -> None:
    """Stop the receivers and wait until every block they received is allocated to a batch, so
    that the graceful stop that follows only processes those batches. Spark's own graceful stop
    closes the driver's write-ahead log as it stops the receivers; the last blocks then cannot be
    allocated, and it waits for them until its timeout drops them (`StopIntake` in the assembly)."""
    helper = ssc._jvm.io.kinesispipelines.spark.StopIntake
    try:
        if not helper.stopReceivers(ssc._jssc.ssc(), 60):
            print("not every receiver stopped within 60 s; draining what they stored", flush=True)
        deadline = time.monotonic() + timeout_seconds
        while helper.hasUnallocatedBlocks(ssc._jssc.ssc()) and time.monotonic() < deadline:
            time.sleep(0.1)
    except Exception as exc:  # an assembly or a Spark without what this reaches: say so, stop anyway
        print(
            f"could not stop the receivers ahead of the graceful stop ({type(exc).__name__}: {exc}); "
            "Spark's own graceful stop follows, which may leave the last received blocks unprocessed",
            flush=True,
        )
        return
    print("receivers stopped and every block they received allocated to a batch: processing them", flush=True)


def resume_from_delivered(config: DriverConfig) -> None:
    """Before any receiver starts: each shard's KCL checkpoint back to what was delivered."""
    delivered = delivery.read_positions(config.ledger_dir, files_for(config.ledger_dir))
    client = make_client("dynamodb", config.connection, component="driver")
    rewind_leases(client, config.application_name, delivered, lambda line: print(f"  {line}", flush=True))


def advance_to_delivered(config: DriverConfig) -> None:
    """Before any receiver starts: each shard's KCL checkpoint that lags behind what the pipeline
    published is moved up to it (planning/rewind.py::plan_advance), so a lease a starved or killed
    driver left far behind re-reads nothing published, whatever the ledger's window. A table that
    cannot be reached leaves KCL's positions as they are (the ledger's window still holds)."""
    delivered = delivery.read_positions(config.ledger_dir, files_for(config.ledger_dir))
    if not delivered:
        return
    try:
        client = make_client("dynamodb", config.connection, component="driver")
        advance_leases(
            client, config.application_name, delivered, lambda line: print(f"  {line}", flush=True)
        )
    except KinesisPipelinesError as exc:
        print(f"KCL's positions left as they are: {exc}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kinesis_pipelines receiver application")
    parser.add_argument("--job-file", required=True)
    args = parser.parse_args(argv)
    config = DriverConfig.model_validate_json(Path(args.job_file).read_text())
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
