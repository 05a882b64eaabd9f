"""Delivered once or dead-lettered, whatever the operator, the infrastructure or the data does:
a short, seeded fault campaign (bench/faults.py runs the long one) on one running pipeline, every
fault kind at least once, while ids and bad records are produced; then every id is accounted for.

Fault kinds, one after the other: driver kill, orchestrator kill in the middle of a roll, spec
change, rebalance, emulator restart, DynamoDB partition of the driver's fence client; bad records
(not UTF-8, poison) arrive throughout (kinesis_pipelines_tests/support/fault_campaign.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines_tests.support.fault_campaign import BAD_RECORDS, KINDS
from kinesis_pipelines_tests.support.fault_checker import render
from kinesis_pipelines_tests.support.fault_run import run_campaign

pytestmark = pytest.mark.e2e

SEED = 19


@pytest.fixture
def own_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """An embedded AWS of this test's own, since the campaign restarts its emulators."""
    monkeypatch.setenv("KINESIS_PIPELINES_HOME", str(tmp_path))
    aws = LocalAws(tmp_path)
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


def test_every_id_delivered_once_or_dead_lettered_under_a_fault_campaign(
    own_aws: LocalAws, assembly_jar: object, tmp_path: Path
) -> None:
    work = tmp_path / "campaign"
    work.mkdir()
    report = run_campaign(
        own_aws, work, seed=SEED, minutes=2, rate=40, bad_every=40, gap=(5, 15), name="campaign"
    )
    print(render(report))
    rows = {row.kind: row for row in report.rows}
    assert all(rows[kind].injected >= 1 for kind in KINDS), [r.model_dump() for r in report.rows]
    assert all(row.recovered == row.injected for row in report.rows if row.kind != BAD_RECORDS), render(
        report
    )
    assert (report.lost, report.duplicated) == (0, 0), (report.lost_ids[:20], report.duplicated_ids[:20])
    assert report.unexpected_lines == 0
    # every bad record in the dead letters once; every dead-lettered id went with a poison record
    assert report.bad_records >= 2 and report.bad_records_dead_lettered == report.bad_records
    assert report.failed_batches_without_poison == []
    assert report.produced == report.delivered_once + report.dead_lettered
