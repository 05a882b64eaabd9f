"""Bad records do not stop the pipeline: a record that is not UTF-8 and a batch the processor
cannot process go to the dead-letter location with their reason, every other record comes out once,
and once the processor is fixed `dead-letters --replay` brings the failed batch's records back.

What used to happen: one record that is not UTF-8 failed its batch on every attempt, the driver
died, each restart replayed the same batch and died again; 0 of 800 ids came out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.processors import POISON_PREFIX
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.cli import main as cli
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations import dead_letters
from kinesis_pipelines.operations.status import pipeline_status, render_status
from kinesis_pipelines.orchestration.metadata import look_metadata
from kinesis_pipelines.producer import account, put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import driver_work, make_spec, wait_for, wait_while_working

pytestmark = pytest.mark.e2e

NOT_UTF8 = b"\xff\xfe not utf-8 \xc3\x28"


def test_bad_records_go_to_dead_letters_and_the_job_goes_on(
    local_aws, assembly_jar, cleanup_drivers, capsys
) -> None:
    spec = make_spec("dead_letters", shards=1, processor="kinesis_pipelines.app.processors:fail_on_poison")
    cleanup_drivers.append(spec)
    backends = operations.backends_for(spec)
    operations.deploy(spec, backends)
    client = backends.stream.client
    before, after = unique_ids("dl-before", 400), unique_ids("dl-after", 400)
    poison = f"{POISON_PREFIX}-1"
    # then a burst put at once: a big batch of many partitions with several bad records in it
    burst = unique_ids("dl-burst", 1_600)
    burst_poisons = [f"{POISON_PREFIX}-{n}" for n in range(2, 6)]
    burst_put = list(burst)
    for n, bad_record in enumerate(burst_poisons):
        burst_put.insert(150 + n * 400, bad_record)
    poisons = {poison, *burst_poisons}
    sink = job_path(spec.job.sink.path)
    put_all(client, spec.stream.name, before[:200])
    client.put_record(StreamName=spec.stream.name, Data=NOT_UTF8, PartitionKey="bytes-key")
    put_all(client, spec.stream.name, before[200:])
    wait_for(lambda: set(before) <= set(read_output(sink)), 150, "the ids around the bad bytes out")
    later = [poison, *after]
    for start in range(0, len(later), 50):  # spread over several batches
        put_all(client, spec.stream.name, later[start : start + 50])
        time.sleep(0.5)
    put_all(client, spec.stream.name, burst_put)
    ids = before + after + burst

    def settled() -> dict[str, int] | None:
        totals = read_totals(ledger_dir(spec))
        # every record is delivered or dead-lettered: the ids, the poison records and the bad bytes
        return totals if totals["admitted"] >= len(ids) + len(poisons) + 1 else None

    # a failed batch is retried, then taken apart in dozens of small Spark jobs: slow on a busy
    # machine, so the wait lasts while the driver keeps finishing tasks
    totals = wait_while_working(
        settled,
        lambda: (driver_work(spec, backends), read_totals(ledger_dir(spec))),
        "every record delivered or dead-lettered",
    )
    report = dead_letters.list_dead_letters(spec, backends)
    undecodable = [b for b in report.batches if b.kind == "undecodable"]
    failed = [b for b in report.batches if b.kind == "failed_batch"]
    letters = [
        letter
        for batch in report.batches
        for letter in dead_letters.read_directory(
            dead_letters.job_files(report.location, None), f"{report.location}/{batch.name}"
        )
    ]
    in_dead_letters = {letter.data().decode() for letter in letters if letter.kind == "failed_batch"}
    out = list(read_output(sink))
    tally = account(ids, out)
    print(f"totals {totals}; dead letters {report.model_dump()}; {tally.model_dump()}")

    # the record that is not UTF-8: once, with what identifies it and why
    assert sum(b.records for b in undecodable) == 1
    (bad,) = [letter for letter in letters if letter.kind == "undecodable"]
    assert bad.data() == NOT_UTF8 and bad.partition_key == "bytes-key"
    assert bad.reason.startswith("not UTF-8") and bad.sequence_number and bad.arrival_time
    assert bad.stream == spec.stream.name
    # the batches the processor failed on: taken apart until the records it fails on are found
    # (several in one big batch too); those records alone are dead-lettered, each with the
    # processor's error, and the rest of each batch published
    assert in_dead_letters == poisons, in_dead_letters
    reasons = [reason for batch in failed for reason in batch.reasons]
    assert "RuntimeError: processor cannot handle 'poison-1'" in reasons[0] and "3 times" in reasons[0]
    assert all("held apart, it fails on its own" in reason for reason in reasons), reasons
    for batch in failed:
        failed_batch = Path(sink) / batch.name  # same batch time and prefix
        published = [line for part in failed_batch.glob("part-*") for line in part.read_text().splitlines()]
        print(f"failed batch {batch.name}: {len(published)} ids published, {batch.records} dead-lettered")
        assert published and not poisons & set(published)
    # every id out exactly once
    assert (tally.lost, tally.duplicates, tally.unexpected) == (0, 0, 0), tally
    assert totals["dead_lettered"] == 1 + len(in_dead_letters)
    record = backends.store.driver()
    assert record is not None and backends.launcher.status(record).state.value == "RUNNING"
    # counted where an operator looks: status, the streaming job's observation and its check
    shown = pipeline_status(spec, backends)
    assert (shown.dead_lettered, shown.dead_letters_waiting) == (totals["dead_lettered"],) * 2
    assert f"{shown.dead_letters_waiting} waiting" in render_status(shown)
    look = operations.supervise(spec, backends)
    assert look_metadata(look)["dead_letters_waiting"] == totals["dead_lettered"]
    passed, severity, _ = operations.check_results(spec, look.memory, 0)["no_dead_letters_waiting"]
    assert (passed, severity) == (False, "WARN")

    # the fix: a processor that handles every record; then the replay brings the record back once
    fixed = make_spec("dead_letters", shards=1)
    operations.deploy_job(fixed, operations.backends_for(fixed))
    assert cli(["dead-letters", "--json", "--replay", str(_spec_file(fixed, sink))]) == 0
    replayed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert replayed["records"] == 1 + len(in_dead_letters)
    wait_for(lambda: poisons <= set(read_output(sink)), 120, "the replayed records out")
    final = account([*ids, *poisons], read_output(sink))
    assert (final.lost, final.duplicates) == (0, 0), final

    # the bytes that are not UTF-8 come back as such (a processor fix does not change them): they
    # are dead-lettered again, and a second replay sends them alone, nothing it replayed before
    def again() -> list[dead_letters.DeadLetterBatch]:
        waiting = [b for b in dead_letters.list_dead_letters(fixed, backends).batches if not b.replayed]
        return waiting

    waiting = wait_for(again, 60, "the replayed bytes dead-lettered again")
    assert [(b.kind, b.records) for b in waiting] == [("undecodable", 1)]
    assert cli(["dead-letters", "--json", "--replay", str(_spec_file(fixed, sink))]) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (second["records"], second["batches"]) == (1, [waiting[0].name])
    operations.stop(fixed, operations.backends_for(fixed))


def _spec_file(spec, sink) -> object:
    from pathlib import Path

    path = Path(sink).parent / f"{spec.name}.yaml"
    path.write_text(json.dumps(spec.model_dump(mode="json", exclude_none=True)))
    return path
