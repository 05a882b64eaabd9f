"""DynamoDB checkpoint throttling and Kinesis read throttling, injected by a fault proxy in front
of the emulators: the job keeps going and every record comes out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kinesis_pipelines import operations
from kinesis_pipelines.launch import DriverState
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, materialize, wait_all_out
from kinesis_pipelines_tests.support.proxies import emulator_proxies

pytestmark = pytest.mark.e2e


@pytest.fixture
def fault_proxies(local_aws, tmp_path: Path, monkeypatch) -> Iterator[dict[str, str]]:
    # boto3 honours AWS_CA_BUNDLE; the JVM already trusts the embedded certificate.
    monkeypatch.setenv("AWS_CA_BUNDLE", local_aws.ca_bundle)
    throttle = {
        "kinesis": ("Kinesis_20131202.GetRecords", 2),
        "dynamodb": ("DynamoDB_20120810.UpdateItem", 2),
    }
    with emulator_proxies(local_aws, tmp_path, ("kinesis", "dynamodb"), throttle=throttle) as urls:
        yield urls


def test_job_keeps_going_under_throttling(fault_proxies, assembly_jar, cleanup_drivers) -> None:
    spec = make_spec("throttled", shards=2, write_ahead_log=True)
    spec = spec.model_copy(
        update={
            "stream": spec.stream.model_copy(update={"endpoint_url": fault_proxies["kinesis"]}),
            "app_table": spec.app_table.model_copy(update={"endpoint_url": fault_proxies["dynamodb"]}),
        }
    )
    cleanup_drivers.append(spec)
    materialize(spec)
    ids = unique_ids("throttled", 3_000)
    backends = operations.backends_for(spec)
    put_all(backends.stream.client, spec.stream.name, ids)
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"under throttling: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally  # re-reads dropped by the ledger
    kinesis_faults = requests.get(fault_proxies["kinesis"], timeout=5).json()
    dynamodb_faults = requests.get(fault_proxies["dynamodb"], timeout=5, verify=False).json()
    print(f"injected: GetRecords {kinesis_faults}, UpdateItem {dynamodb_faults}")
    assert kinesis_faults["throttled"] > 0 and dynamodb_faults["throttled"] > 0
    record = backends.store.driver()
    assert record is not None and backends.launcher.status(record).state is DriverState.RUNNING
    operations.stop(spec, backends)
