"""`credentials: {source: assume_role}` end to end on the embedded AWS, whose moto server serves
STS. A recording proxy sits in front of it, and it sees both sides assume the role with the
external id: the orchestrator's boto3 clients, and the driver's KCL (through the package's own
credentials in the assembly, at the resolved STS endpoint). The sessions are short (900 s), so
the orchestrator's credentials are refreshed during the run. The external id is in no log, job
file, Spark checkpoint, run config or event metadata."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.state import resolve_path
from kinesis_pipelines_tests.e2e.helpers import make_spec, materialize, wait_all_out
from kinesis_pipelines_tests.support.proxies import emulator_proxies

pytestmark = pytest.mark.e2e

ROLE = "arn:aws:iam::123456789012:role/kp-pipeline-reader"
EXTERNAL_ID_ENV = "KP_TEST_EXTERNAL_ID"


@pytest.fixture
def recorded_sts(local_aws, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    calls = tmp_path / "calls.jsonl"
    with emulator_proxies(local_aws, tmp_path, ("cloudwatch",), record=calls) as urls:
        yield urls["cloudwatch"], calls


def assumed_spec(name: str, moto_url: str) -> PipelineSpec:
    spec = make_spec(name, shards=1)
    credentials = spec.credentials.model_validate(
        {
            "source": "assume_role",
            "role_arn": ROLE,
            "external_id_env": EXTERNAL_ID_ENV,
            "session_duration_seconds": 900,
        }
    )
    return spec.model_copy(update={"credentials": credentials, "cloudwatch_endpoint_url": moto_url})


def test_both_sides_assume_the_role_and_the_external_id_stays_out(
    recorded_sts, assembly_jar, cleanup_drivers, monkeypatch
) -> None:
    moto_url, calls_file = recorded_sts
    external_id = "kp-" + secrets.token_hex(8)
    monkeypatch.setenv(EXTERNAL_ID_ENV, external_id)
    spec = assumed_spec("assumed", moto_url)
    cleanup_drivers.append(spec)
    result = materialize(spec)
    backends = backends_for(spec)
    ids = unique_ids("assumed", 400)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids)
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    record = backends.store.driver()
    assert record is not None

    calls = [json.loads(line) for line in calls_file.read_text().splitlines()]
    assumed = [c for c in calls if c["operation"] == "AssumeRole"]
    by_orchestrator = [c for c in assumed if "(orchestrator)" in c["user_agent"]]
    by_kcl = [c for c in assumed if "aws-sdk-java" in c["user_agent"]]
    by_fence = [c for c in assumed if "(driver)" in c["user_agent"]]
    print(
        f"AssumeRole calls: {len(by_orchestrator)} by the orchestrator, {len(by_kcl)} by KCL in the "
        f"driver, {len(by_fence)} by the driver's fence client"
    )
    assert by_kcl, "KCL in the driver never assumed the role"
    assert by_fence, "the driver's fence client never assumed the role"
    assert len(by_orchestrator) >= 2, "the orchestrator's 900 s credentials were never refreshed"
    assert {c["role_arn"] for c in assumed} == {ROLE}
    assert all(c["external_id"] == "set" for c in assumed)

    # no secret anywhere it could leak to
    places = [Path(record.log_location), Path(record.control_dir), resolve_path(spec.job.checkpoint_dir)]
    leaked = [
        str(path)
        for place in places
        for path in ([place] if place.is_file() else place.rglob("*"))
        if path.is_file() and external_id.encode() in path.read_bytes()
    ]
    assert not leaked, f"the external id leaked into {leaked}"
    assert external_id not in str(result.all_events)  # event metadata and run config
    assert Path(ledger_dir(spec)).exists()
    backends_for(spec).launcher.stop_gracefully(record, 60)
