"""What the job could not process, from the orchestrator's side: list the dead letters and, once
the cause is fixed, replay them onto the stream (app/dead_letters.py writes them).

A replay puts each record back with its partition key, then marks its directory replayed (renamed
`replayed-<name>`, kept for the record), so a second replay sends nothing twice. A replay cut off
between the put and the rename sends that directory's records again next time: the records are
new to the stream (new sequence numbers), so a replay is at least once, and says so."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines.app.dead_letters import (
    FAILED_BATCH_PREFIX,
    RECORDS_PREFIX,
    REPLAYED_PREFIX,
    DeadLetter,
    parse_lines,
)
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.storage import JobFiles, join
from kinesis_pipelines.launch.job_files import job_files
from kinesis_pipelines.launch.submit import dead_letter_path, ledger_dir
from kinesis_pipelines.operations.backends import Backends, Progress, quiet
from kinesis_pipelines.spec import PipelineSpec

PUT_BATCH = 500  # PutRecords' limit
REPLAYED_COUNT_FILE = "_replayed.json"  # records replayed so far, beside the dead letters


class DeadLetterBatch(BaseModel):
    """One directory of dead letters: a batch's undecodable records or a whole failed batch."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    records: int
    reasons: dict[str, int]  # reason -> records
    replayed: bool = False


class DeadLetterReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    pipeline: str
    location: str
    waiting: int  # records not replayed yet
    replayed: int
    batches: list[DeadLetterBatch]


class DeadLetterCounts(BaseModel):
    """Records dead-lettered so far (the driver's count) and replayed since (the replays' count)."""

    model_config = ConfigDict(frozen=True)

    location: str
    dead_lettered: int = 0
    replayed: int = 0

    @property
    def waiting(self) -> int:
        return max(0, self.dead_lettered - self.replayed)


class ReplayResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    pipeline: str
    records: int
    batches: list[str]


def job_files_for(backends: Backends, location: str) -> JobFiles:
    """The orchestrator's files API for a job path (HDFS through the cluster's WebHDFS)."""
    hadoop = getattr(backends.launcher, "hadoop", None) if location.startswith("hdfs://") else None
    return job_files(location, hadoop)


def _directories(files: JobFiles, location: str) -> list[str]:
    prefixes = (RECORDS_PREFIX, FAILED_BATCH_PREFIX, REPLAYED_PREFIX)
    return [name for name in files.names(location) if name.startswith(prefixes)]


def read_directory(files: JobFiles, directory: str) -> Iterator[DeadLetter]:
    for part in files.names(directory):
        if part.startswith("part-"):
            yield from parse_lines(files.read_text(join(directory, part)) or "")


def list_dead_letters(spec: PipelineSpec, backends: Backends) -> DeadLetterReport:
    location = dead_letter_path(spec)
    files = job_files_for(backends, location)
    batches = []
    for name in _directories(files, location):
        letters = list(read_directory(files, join(location, name)))
        reasons = Counter(letter.reason for letter in letters)
        replayed = name.startswith(REPLAYED_PREFIX)
        kind = (
            "undecodable" if name.removeprefix(REPLAYED_PREFIX).startswith(RECORDS_PREFIX) else "failed_batch"
        )
        batches.append(
            DeadLetterBatch(
                name=name, kind=kind, records=len(letters), reasons=dict(reasons), replayed=replayed
            )
        )
    return DeadLetterReport(
        pipeline=spec.name,
        location=location,
        waiting=sum(batch.records for batch in batches if not batch.replayed),
        replayed=sum(batch.records for batch in batches if batch.replayed),
        batches=batches,
    )


def dead_letter_counts(spec: PipelineSpec, backends: Backends) -> DeadLetterCounts:
    """Two small reads: the delivery ledger's totals and the replays' count."""
    location = dead_letter_path(spec)
    ledger = ledger_dir(spec)
    totals = read_totals(ledger, job_files_for(backends, ledger))
    return DeadLetterCounts(
        location=location,
        dead_lettered=totals["dead_lettered"],
        replayed=_replayed_count(job_files_for(backends, location), location),
    )


def _replayed_count(files: JobFiles, location: str) -> int:
    text = files.read_text(join(location, REPLAYED_COUNT_FILE))
    return int(json.loads(text).get("records", 0)) if text else 0


def replay(spec: PipelineSpec, backends: Backends, progress: Progress = quiet) -> ReplayResult:
    """Put every dead letter not yet replayed back on the pipeline's stream, oldest first."""
    location = dead_letter_path(spec)
    files = job_files_for(backends, location)
    client = backends.stream.client
    sent, replayed = 0, []
    for name in _directories(files, location):
        if name.startswith(REPLAYED_PREFIX):
            continue
        letters = list(read_directory(files, join(location, name)))
        for start in range(0, len(letters), PUT_BATCH):
            _put(client, spec.stream.name, letters[start : start + PUT_BATCH])
        files.rename(join(location, name), join(location, f"{REPLAYED_PREFIX}{name}"))
        replayed_so_far = _replayed_count(files, location) + len(letters)
        files.write_text(join(location, REPLAYED_COUNT_FILE), json.dumps({"records": replayed_so_far}))
        sent += len(letters)
        replayed.append(name)
        progress(f"{spec.name}: replayed {len(letters)} record(s) of {name} onto {spec.stream.name}")
    return ReplayResult(pipeline=spec.name, records=sent, batches=replayed)


def _put(client: Any, stream: str, letters: list[DeadLetter]) -> None:
    pending = [{"Data": letter.data(), "PartitionKey": letter.partition_key or "-"} for letter in letters]
    attempt = 0
    while pending:
        response = client.put_records(StreamName=stream, Records=pending)
        pending = [
            entry for entry, result in zip(pending, response["Records"], strict=True) if "ErrorCode" in result
        ]
        if pending:
            attempt += 1
            time.sleep(min(2.0, 0.05 * 2**attempt))
