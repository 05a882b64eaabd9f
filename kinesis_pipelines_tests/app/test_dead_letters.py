"""What a dead letter says of a record (pure logic, no Spark)."""

from __future__ import annotations

import base64
import json

import pytest

from kinesis_pipelines.app import dead_letters
from kinesis_pipelines.app.dead_letters import DeadLetter, decode_or_reason, decode_strict, parse_element


def element(data: bytes, partition_key: str = "pk/ü", arrival_ms: int = 1_700_000_000_123) -> bytes:
    encoded = base64.urlsafe_b64encode(partition_key.encode()).decode()
    return (
        f"49590338271490256608559692538361571095921575989136588898:1a2b {encoded} {arrival_ms}\n".encode()
        + data
    )


def test_the_header_gives_sequence_number_partition_key_and_arrival_time() -> None:
    header, data = parse_element(element(b"line\nwith newline"))
    assert header.sequence_number == "49590338271490256608559692538361571095921575989136588898"
    assert header.partition_key == "pk/ü"
    assert header.arrival_ms == 1_700_000_000_123
    assert data == b"line\nwith newline"


def test_an_element_without_the_newer_header_fields_still_parses() -> None:
    header, data = parse_element(b"495:1a2b\ndata")
    assert (header.sequence_number, header.partition_key, header.arrival_ms, data) == (
        "495",
        "",
        None,
        b"data",
    )


def test_bytes_that_are_not_utf8_are_flagged_with_the_reason() -> None:
    assert decode_or_reason(element("héllo".encode())) == ("héllo", "")
    text, reason = decode_or_reason(element(b"\xff\xfe"))
    assert text is None and reason.startswith("not UTF-8: 'utf-8' codec can't decode byte 0xff")


def test_the_fail_policy_names_the_record_and_the_setting() -> None:
    with pytest.raises(ValueError, match=r"record 4959\d+ \(partition key 'pk/ü'\) is not UTF-8.*'fail'"):
        decode_strict(element(b"\xff"))


def test_a_dead_letter_line_keeps_the_data_exactly() -> None:
    line = dead_letters.to_dead_letter_line(
        "p", "s", 1_700_000_001_000, "undecodable", "why", element(b"\xff\x00")
    )
    letter = DeadLetter.model_validate(json.loads(line))
    assert letter.data() == b"\xff\x00"
    assert letter.arrival_time == "2023-11-14T22:13:20.123+00:00"
    assert letter.batch_time == "2023-11-14T22:13:21.000+00:00"
    assert (letter.pipeline, letter.stream, letter.kind, letter.reason) == ("p", "s", "undecodable", "why")


def test_only_decodable_records_of_a_failed_batch_are_written_with_it() -> None:
    lines = list(
        dead_letters.failed_batch_lines("p", "s", 1, "boom", iter([element(b"ok"), element(b"\xff")]))
    )
    assert [DeadLetter.model_validate(json.loads(line)).data() for line in lines] == [b"ok"]


def test_the_error_summary_is_the_workers_python_error() -> None:
    spark_error = Exception(
        "An error occurred while calling o123.saveAsTextFile.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: ...\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 3, in check\n'
        "RuntimeError: processor cannot handle 'poison-1'\n"
        "\tat org.apache.spark.api.python.BasePythonRunner...\n"
    )
    assert dead_letters.error_summary(spark_error) == "RuntimeError: processor cannot handle 'poison-1'"
    assert dead_letters.error_summary(KeyError("k")) == "KeyError: 'k'"
