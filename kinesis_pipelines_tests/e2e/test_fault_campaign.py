"""Delivered once or dead-lettered, whatever the operator, the infrastructure or the data does:
a short, seeded fault campaign (bench/faults.py runs the long one, with every fault kind) on one
running pipeline while ids and bad records are produced; then every id is accounted for.

The suite's run takes the kind no other test covers: the orchestrator killed in the middle of a
roll; bad records (not UTF-8, poison) arrive throughout. Every other kind has its own test: a
driver kill (e2e/test_supervision.py), a spec change and a rebalance under backlog
(e2e/test_roll_under_backlog.py), an emulator restart (e2e/test_emulator_outages.py), a DynamoDB
partition of the fence client (e2e/test_split_driver_fencing.py). Every kind at least once, one
after the other, took 14 to 30 minutes of the suite on this machine; bench/faults.py runs them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines_tests.support.fault_campaign import BAD_RECORDS
from kinesis_pipelines_tests.support.fault_checker import render
from kinesis_pipelines_tests.support.fault_run import run_campaign

pytestmark = pytest.mark.e2e

SEED = 19
SUITE_KINDS = ("orchestrator_kill",)


def test_every_id_delivered_once_or_dead_lettered_under_a_fault_campaign(
    own_aws: LocalAws, assembly_jar: object, tmp_path: Path
) -> None:
    work = tmp_path / "campaign"
    work.mkdir()
    report = run_campaign(
        own_aws,
        work,
        seed=SEED,
        minutes=1,
        rate=40,
        bad_every=20,  # at most 30 s apart: at least 2 in the 20 s baseline and 60 s of faults
        kinds=SUITE_KINDS,
        gap=(5, 15),
        name="campaign",
    )
    print(render(report))
    rows = {row.kind: row for row in report.rows}
    assert all(rows[kind].injected >= 1 for kind in SUITE_KINDS), [r.model_dump() for r in report.rows]
    assert all(row.recovered == row.injected for row in report.rows if row.kind != BAD_RECORDS), render(
        report
    )
    assert (report.lost, report.duplicated) == (0, 0), (report.lost_ids[:20], report.duplicated_ids[:20])
    assert report.unexpected_lines == 0
    # every bad record in the dead letters once; every dead-lettered id went with a poison record
    assert report.bad_records >= 2 and report.bad_records_dead_lettered == report.bad_records
    assert report.failed_batches_without_poison == []
    assert report.produced == report.delivered_once + report.dead_lettered
