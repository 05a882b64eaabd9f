"""The spark-submit line that `plan` prints runs as printed, by hand, with a plain application
written from Spark's Kinesis guide (KinesisUtils.createStream, no ssc.checkpoint): our jar and our
options are all it needs. The shell that runs it has no AWS variables of its own, so the line must
carry everything (the emulators' test keys, the endpoint override it names)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.launch.submit import APP_DIR
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, wait_for

pytestmark = pytest.mark.e2e

PLAIN_APP = textwrap.dedent(
    """
    import sys
    from pyspark import SparkContext
    from pyspark.streaming import StreamingContext
    from pyspark.streaming.kinesis import InitialPositionInStream, KinesisUtils

    application, stream, endpoint, region, out = sys.argv[1:6]
    sc = SparkContext(appName="plain-kinesis-app")
    ssc = StreamingContext(sc, 2)
    records = KinesisUtils.createStream(
        ssc, application, stream, endpoint, region, InitialPositionInStream.TRIM_HORIZON, 2
    )

    def save(rdd):
        items = rdd.collect()
        if items:
            with open(out, "a") as handle:
                handle.write("\\n".join(items) + "\\n")

    records.foreachRDD(save)
    ssc.start()
    ssc.awaitTermination()
    """
)


def test_the_printed_line_runs_a_plain_application(
    local_aws, assembly_jar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    spec = make_spec("by_hand", shards=1, executor_cores=3)
    backends = operations.backends_for(spec)
    backends.stream.ensure_stream()
    report = operations.plan(spec, backends, write_files=True)
    assert report.files_written and all(Path(f).exists() for f in report.files)
    assert "AWS_SECRET_ACCESS_KEY=local" in report.spark_submit  # the line carries what KCL needs
    assert "writeAheadLog" not in report.spark_submit  # the application's to set, with a checkpoint

    app, out, log = tmp_path / "plain_app.py", tmp_path / "out.txt", tmp_path / "by-hand.log"
    app.write_text(PLAIN_APP)
    ours, _, _ = report.spark_submit.rpartition(f"{APP_DIR}/receiver_app.py")
    arguments = [f"by-hand-{uuid.uuid4().hex[:8]}", spec.stream.name, backends.connection.kinesis_url(),
                 spec.stream.region, str(out)]  # fmt: skip
    line = f"{ours}{shlex.quote(str(app))} {shlex.join(arguments)}"
    shell_env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            ["bash", "-c", line],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=shell_env,
            start_new_session=True,
        )
    try:
        ids = unique_ids("by-hand", 300)
        put_all(backends.stream.client, spec.stream.name, ids)

        def all_out() -> bool:
            return out.exists() and set(ids) <= set(out.read_text().split())

        wait_for(all_out, timeout=180, what=f"every id from the plain application (log: {log})")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "Cannot enable receiver write-ahead log" not in text
    assert "FileNotFoundException" not in text
