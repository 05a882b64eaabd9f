"""A recovered batch's input is read once, whatever the sink does with it (real local Spark)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kinesis_pipelines.app import delivery

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pyspark = pytest.importorskip("pyspark")
    conf = (
        pyspark.SparkConf()
        .setMaster("local[1]")
        .setAppName("recovered-inputs")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYSPARK_PYTHON", sys.executable)  # the workers run this Python, not python3
        context = pyspark.SparkContext(conf=conf)
    context.setLogLevel("ERROR")
    try:
        yield context
    finally:
        context.stop()


def reads_of(spark: Any, batch_ms: int, actions: int) -> tuple[int, bool]:
    """Partition reads of a batch's input over `actions` actions (as the ledger, the undecodable
    writer and the sink each run one), and whether the input is still kept afterwards."""
    reads = spark.accumulator(0)

    def read(partition: Iterator[int]) -> Iterator[int]:
        reads.add(1)  # one block read (from Kinesis, for a recovered batch)
        yield from partition

    rdd = delivery.keep_if_recovered(batch_ms, spark.parallelize(range(100), 4).mapPartitions(read))
    for _ in range(actions):
        rdd.map(lambda x: x + 1).count()
    delivery.release_batch_input(batch_ms)
    return reads.value, rdd.is_cached


def test_a_recovered_batch_reads_its_blocks_once_and_is_released(spark: Any) -> None:
    recovered = int(delivery.STARTED_MS) - 60_000  # a batch time before this driver started
    assert reads_of(spark, recovered, actions=3) == (4, False)


def test_a_live_batch_is_not_kept(spark: Any) -> None:
    live = int(time.time() * 1000)  # a batch this driver creates
    assert reads_of(spark, live, actions=3) == (12, False)
