"""Dead letters: what the job could not process, kept beside the sink so that nothing is lost and
the job goes on.

Two kinds, each published like a sink batch (staged, then renamed into place, replaced on replay):
- `records-<batch time ms>`: the records of a batch that could not be decoded as UTF-8;
- `batch-<batch time ms>`: a whole batch whose processing failed `batch_attempts` times.

Each line is one record as JSON: where it came from (stream, sequence number, partition key,
arrival time), why it is here, and its data in Base64, so `kinesis-pipelines dead-letters
--replay` can put it back on the stream once the processor is fixed. The shard is not known to
the driver's Python (KCL hands the receiver records, not shards); the sequence number is."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.app.delivery import KEY_SEPARATOR

RECORDS_PREFIX = "records-"
FAILED_BATCH_PREFIX = "batch-"
REPLAYED_PREFIX = "replayed-"
DEFAULT_DIR_NAME = "_dead_letters"  # inside the sink: Hadoop and Spark readers skip "_" names

Kind = Literal["undecodable", "failed_batch"]


class DeadLetter(BaseModel):
    """One record in the dead-letter location."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    reason: str
    pipeline: str
    stream: str
    shard: str | None = None
    sequence_number: str
    partition_key: str
    arrival_time: str | None  # ISO 8601, from Kinesis's approximate arrival timestamp
    batch_time: str
    data_base64: str

    def data(self) -> bytes:
        return base64.b64decode(self.data_base64)


class Header(BaseModel):
    model_config = ConfigDict(frozen=True)

    sequence_number: str
    partition_key: str
    arrival_ms: int | None


def parse_element(element: bytes) -> tuple[Header, bytes]:
    """A keyed element's header and data (see `KeyedKinesisStreams` in the assembly)."""
    header, _, data = element.partition(KEY_SEPARATOR)
    key, _, rest = header.decode("ascii").partition(" ")
    encoded_key, _, arrival = rest.partition(" ")
    partition_key = base64.urlsafe_b64decode(encoded_key).decode() if encoded_key else ""
    return (
        Header(
            sequence_number=key.rsplit(":", 1)[0],
            partition_key=partition_key,
            arrival_ms=int(arrival) if arrival.isdigit() and int(arrival) > 0 else None,
        ),
        data,
    )


def decode_or_reason(element: bytes) -> tuple[str | None, str]:
    """(the record's text, "") or (None, why it cannot be decoded). Runs in the Python workers."""
    data = element.partition(KEY_SEPARATOR)[2]
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc}"


def decode_strict(element: bytes) -> str:
    """The record's text; the `fail` policy's decoder, which stops the job on a bad record."""
    text, reason = decode_or_reason(element)
    if text is None:
        header, _ = parse_element(element)
        raise ValueError(
            f"record {header.sequence_number} (partition key {header.partition_key!r}) is "
            f"{reason}; job.bad_records.policy is 'fail', so the job stops. With 'dead_letter' "
            "(the default) such records go to the dead-letter location and the job goes on"
        )
    return text


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def to_dead_letter_line(
    pipeline: str, stream: str, batch_ms: int, kind: Kind, reason: str, element: bytes
) -> str:
    header, data = parse_element(element)
    return DeadLetter(
        kind=kind,
        reason=reason,
        pipeline=pipeline,
        stream=stream,
        sequence_number=header.sequence_number,
        partition_key=header.partition_key,
        arrival_time=_iso(header.arrival_ms) if header.arrival_ms else None,
        batch_time=_iso(batch_ms),
        data_base64=base64.b64encode(data).decode("ascii"),
    ).model_dump_json()


def undecodable_lines(pipeline: str, stream: str, batch_ms: int, elements: Iterator[bytes]) -> Iterator[str]:
    """The dead-letter lines of a partition's records that cannot be decoded."""
    for element in elements:
        text, reason = decode_or_reason(element)
        if text is None:
            yield to_dead_letter_line(pipeline, stream, batch_ms, "undecodable", reason, element)


def failed_batch_lines(
    pipeline: str, stream: str, batch_ms: int, reason: str, elements: Iterator[bytes]
) -> Iterator[str]:
    """The dead-letter lines of a failed batch's decodable records (the others are dead-lettered
    on their own)."""
    for element in elements:
        if decode_or_reason(element)[0] is not None:
            yield to_dead_letter_line(pipeline, stream, batch_ms, "failed_batch", reason, element)


PYTHON_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)[^\n]*)$", re.MULTILINE)


def error_summary(exc: BaseException, limit: int = 1000) -> str:
    """What went wrong in a batch, in one line: the Python error raised in a worker when Spark
    reports one (its last line), else the exception's own first line."""
    text = str(exc)
    worker_errors = [line for line in PYTHON_ERROR.findall(text) if not line.startswith("py4j.")]
    summary = (
        worker_errors[-1]
        if worker_errors
        else f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
    )
    return summary[:limit]


def parse_lines(text: str) -> Iterator[DeadLetter]:
    for line in text.splitlines():
        if line.strip():
            yield DeadLetter.model_validate(json.loads(line))
