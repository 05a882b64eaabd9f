"""A running job survives its AWS services going away and coming back with their data: the
Kinesis emulator restarted, then the DynamoDB emulator restarted. Every record comes out."""

from __future__ import annotations

import pytest

from kinesis_pipelines import operations
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, materialize, wait_all_out

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("service", ["kinesis", "dynamodb"])
def test_job_rides_out_an_emulator_restart(own_aws, assembly_jar, cleanup_drivers, service) -> None:
    spec = make_spec(f"outage_{service}", shards=2, write_ahead_log=True)
    cleanup_drivers.append(spec)
    materialize(spec)
    ids = unique_ids(f"outage-{service}", 1_000)
    backends = operations.backends_for(spec)
    put_all(backends.stream.client, spec.stream.name, ids[:500])
    assert wait_all_out(spec, ids[:500]).lost == 0
    own_aws.restart_service(service)
    put_all(backends.stream.client, spec.stream.name, ids[500:])
    tally = wait_all_out(spec, ids, timeout=240)
    print(f"after a {service} restart: {tally.model_dump()}")
    assert (tally.lost, tally.duplicates) == (0, 0), tally  # re-reads dropped by the ledger
    operations.stop(spec, backends)
