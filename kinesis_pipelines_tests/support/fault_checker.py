"""The fault campaign's checker: every id the producer put is accounted for, from the sink and
the dead-letter location, and every anomaly is laid at the door of a fault.

An id is delivered once (in the sink once, not dead-lettered), dead-lettered (in a failed batch
dead-lettered whole, not in the sink), lost (in neither) or duplicated (more than once in all).
A failed batch must hold a poison record (else it is flagged: the processor failed on good data);
each poison record must be dead-lettered once and never delivered; each record that is not UTF-8
is found by its bytes among the undecodable dead letters, once.

Attribution: a lost or duplicated id is counted against the fault in whose window it was put
(from that fault's injection to the next one's; before the first fault: `none`), so an id put
just before a fault and hurt by it is counted against the fault before. Dead-lettered ids count
against bad_records (they went with a poison record); ids of a failed batch with no poison count
against the window's fault."""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

from kinesis_pipelines.app.processors import POISON_PREFIX
from kinesis_pipelines.app.sinks import read_output
from kinesis_pipelines.operations import backends_for, dead_letters
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines_tests.support.fault_campaign import BAD_RECORDS, KINDS, FaultEvent
from kinesis_pipelines_tests.support.fault_traffic import BadRecord

NONE = "none"


class Row(BaseModel):
    kind: str
    injected: int = 0
    recovered: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    recover_seconds: list[float] = []

    def cells(self) -> list[str]:
        times = self.recover_seconds
        timing = f"{statistics.median(times):.0f} / {max(times):.0f}" if times else "-"
        return [self.kind, str(self.injected), str(self.recovered), str(self.lost), str(self.duplicated),
                str(self.dead_lettered), timing]  # fmt: skip


class Report(BaseModel):
    produced: int
    delivered_once: int
    dead_lettered: int
    lost: int
    duplicated: int  # extra copies of ids whose every put was certain
    ambiguous_puts: int  # ids whose put raised (written or not): a second copy is the producer's
    ambiguous_duplicated: int
    unexpected_lines: int
    bad_records: int
    bad_records_dead_lettered: int
    failed_batches: int
    failed_batches_without_poison: list[str]
    rows: list[Row]
    lost_ids: list[str]
    duplicated_ids: list[str]
    events: list[FaultEvent]
    spark_stop_timeouts: list[str] = []  # drivers whose graceful stop Spark cut off
    final_redeploys: int = 0  # deploys after a final stop that had to kill the driver

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def check(
    spec: PipelineSpec,
    sink: Path,
    ids: list[str],
    put_times: list[float],
    ambiguous: set[str],
    bad: list[BadRecord],
    events: list[FaultEvent],
) -> Report:
    out = Counter(read_output(sink))
    letters = _letters(spec)
    failed = [batch for batch, kind, _ in letters if kind == "failed_batch"]
    in_failed: Counter[str] = Counter()
    poisoned_batches: set[str] = set()
    undecodable: Counter[bytes] = Counter()
    for batch, kind, data in letters:
        if kind == "undecodable":
            undecodable[data] += 1
            continue
        text = data.decode(errors="replace")
        in_failed[text] += 1
        if text.startswith(POISON_PREFIX):
            poisoned_batches.add(batch)
    without_poison = sorted(set(failed) - poisoned_batches)
    rows = {kind: Row(kind=kind) for kind in (*KINDS, BAD_RECORDS, NONE)}
    starts = [event.injected_at for event in events]

    def window(index: int) -> str:
        at = bisect.bisect_right(starts, put_times[index]) - 1
        return events[at].kind if at >= 0 else NONE

    lost_ids, duplicated_ids = [], []
    delivered = dead = duplicated = ambiguous_dup = 0
    no_poison_ids = {text for batch, kind, data in letters if batch in without_poison
                     for text in [data.decode(errors="replace")]}  # fmt: skip
    for index, key in enumerate(ids):
        copies = out[key] + in_failed[key]
        if copies == 0:
            lost_ids.append(key)
            rows[window(index)].lost += 1
        elif copies > 1 and key in ambiguous:
            ambiguous_dup += copies - 1
        elif copies > 1:
            duplicated += copies - 1
            duplicated_ids.append(key)
            rows[window(index)].duplicated += copies - 1
        elif in_failed[key]:
            dead += 1
            rows[window(index) if key in no_poison_ids else BAD_RECORDS].dead_lettered += 1
        else:
            delivered += 1
    bad_row = rows[BAD_RECORDS]
    bad_row.injected = len(bad)
    bad_ok = 0
    for record in bad:
        data = record.data()
        if record.kind == "poison":
            text = data.decode()
            found, fine = in_failed[text] + out[text], out[text] == 0
        else:
            found, fine = undecodable[data], True
        bad_ok += fine and found == 1
        bad_row.lost += found == 0
        bad_row.duplicated += max(0, found - 1)
    bad_row.recovered = bad_ok
    for event in events:
        row = rows[event.kind]
        row.injected += 1
        if event.recovered_at is not None:
            row.recovered += 1
            row.recover_seconds.append(round(event.recovered_at - event.injected_at, 1))
    expected = set(ids) | {r.data().decode(errors="replace") for r in bad}
    return Report(
        produced=len(ids), delivered_once=delivered, dead_lettered=dead, lost=len(lost_ids) + bad_row.lost,
        duplicated=duplicated + bad_row.duplicated, ambiguous_puts=len(ambiguous),
        ambiguous_duplicated=ambiguous_dup,
        unexpected_lines=sum(n for key, n in out.items() if key not in expected),
        bad_records=len(bad), bad_records_dead_lettered=bad_ok, failed_batches=len(set(failed)),
        failed_batches_without_poison=without_poison, rows=list(rows.values()),
        lost_ids=lost_ids[:200], duplicated_ids=duplicated_ids[:200], events=events,
    )  # fmt: skip


def _letters(spec: PipelineSpec) -> list[tuple[str, str, bytes]]:
    """(batch directory, kind, data) of every dead letter."""
    report = dead_letters.list_dead_letters(spec, backends_for(spec))
    files = dead_letters.job_files(report.location, None)
    found: list[tuple[str, str, bytes]] = []
    for batch in report.batches:
        for letter in dead_letters.read_directory(files, f"{report.location}/{batch.name}"):
            found.append((batch.name, letter.kind, letter.data()))
    return found


HEADER = ["fault", "injected", "recovered", "ids lost", "ids duplicated", "ids dead-lettered",
          "recover s (median / max)"]  # fmt: skip


def render(report: Report) -> str:
    rows = [row for row in report.rows if row.injected or row.lost or row.duplicated or row.dead_lettered]
    total = Row(
        kind="total", injected=sum(r.injected for r in rows), recovered=sum(r.recovered for r in rows),
        lost=report.lost, duplicated=report.duplicated, dead_lettered=sum(r.dead_lettered for r in rows),
        recover_seconds=[t for r in rows for t in r.recover_seconds],
    )  # fmt: skip
    table = [HEADER, *(row.cells() for row in rows), total.cells()]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                       enumerate(zip(line, widths, strict=True))) for line in table]  # fmt: skip
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    lines += [
        "",
        f"ids produced {report.produced}: delivered once {report.delivered_once}, dead-lettered "
        f"{report.dead_lettered}, lost {report.lost}, duplicated {report.duplicated}",
        f"bad records put {report.bad_records} (not UTF-8 and poison): dead-lettered once "
        f"{report.bad_records_dead_lettered}; failed batches {report.failed_batches}, without a poison "
        f"record {len(report.failed_batches_without_poison)}",
        f"puts that raised (ambiguous) {report.ambiguous_puts}, their second copies "
        f"{report.ambiguous_duplicated}; lines in the sink that were never put {report.unexpected_lines}",
        f"graceful stops Spark cut off at the drain timeout: {len(report.spark_stop_timeouts)}"
        + (f" ({', '.join(report.spark_stop_timeouts)})" if report.spark_stop_timeouts else ""),
        f"final stops that had to kill the driver (the spec deployed again to deliver what it held): "
        f"{report.final_redeploys}",
    ]
    return "\n".join(lines)
