"""The embedded AWS keeps its streams across a stop and a start, and refuses saved streams it
cannot read with an error that names the file (real emulators)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from kinesis_pipelines.emulators.local_aws import LocalAws, kinesis_data_file
from kinesis_pipelines.errors import EmulatorError

pytestmark = pytest.mark.emulators


def kinesis(aws: LocalAws) -> object:
    assert aws.state is not None
    return boto3.client("kinesis", endpoint_url=aws.state.kinesis_endpoint, region_name=aws.region)


def test_streams_and_records_survive_a_stop_and_a_start(tmp_path: Path) -> None:
    first = LocalAws(tmp_path)
    first.start()
    try:
        client = kinesis(first)
        client.create_stream(StreamName="kept", ShardCount=1)  # type: ignore[attr-defined]
        client.get_waiter("stream_exists").wait(StreamName="kept")  # type: ignore[attr-defined]
        client.put_record(StreamName="kept", Data=b"still here", PartitionKey="k")  # type: ignore[attr-defined]
    finally:
        first.stop()
    second = LocalAws(tmp_path)
    second.start()
    try:
        client = kinesis(second)
        shard = client.list_shards(StreamName="kept")["Shards"][0]["ShardId"]  # type: ignore[attr-defined]
        iterator = client.get_shard_iterator(  # type: ignore[attr-defined]
            StreamName="kept", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = client.get_records(ShardIterator=iterator)["Records"]  # type: ignore[attr-defined]
        assert [record["Data"] for record in records] == [b"still here"]
    finally:
        second.stop()


def test_saved_streams_it_cannot_read_are_named_and_nothing_starts(tmp_path: Path) -> None:
    saved = kinesis_data_file(tmp_path)
    saved.parent.mkdir(parents=True)
    saved.write_bytes(b"")  # what a save cut off by a kill leaves
    aws = LocalAws(tmp_path)
    with pytest.raises(EmulatorError, match=r"kinesis-data\.json, are not readable"):
        aws.start()
    assert aws.state is None and saved.read_bytes() == b""
