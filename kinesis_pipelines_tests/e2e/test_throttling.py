"""DynamoDB checkpoint throttling and Kinesis read throttling, injected by a fault proxy in front
of the emulators: the job keeps going and every record comes out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kinesis_pipelines import operations
from kinesis_pipelines.launch import DriverState
from kinesis_pipelines.processes import free_port, start_group, stop_group, wait_for_port
from kinesis_pipelines.producer import put_all, unique_ids
from kinesis_pipelines_tests.e2e.helpers import make_spec, materialize, wait_all_out

pytestmark = pytest.mark.e2e


@pytest.fixture
def fault_proxies(local_aws, tmp_path: Path, monkeypatch) -> Iterator[dict[str, str]]:
    # boto3 honours AWS_CA_BUNDLE; the JVM already trusts the embedded certificate.
    monkeypatch.setenv("AWS_CA_BUNDLE", local_aws.ca_bundle)
    kinesis_port = int(local_aws.kinesis_endpoint.rsplit(":", 1)[1])
    dynalite_pid = local_aws.pids["dynamodb"]
    dynalite_port = _listening_port(dynalite_pid)
    cert = local_aws.ca_bundle
    key = str(Path(cert).with_name("key.pem"))
    kinesis_proxy, dynamodb_proxy = free_port(), free_port()
    procs = [
        start_group(
            [
                sys.executable,
                "-m",
                "kinesis_pipelines.emulators.fault_proxy",
                "--port",
                str(kinesis_proxy),
                "--target-port",
                str(kinesis_port),
                "--throttle",
                "Kinesis_20131202.GetRecords",
                "--every",
                "2",
            ],
            tmp_path / "kinesis-proxy.log",
        ),
        start_group(
            [
                sys.executable,
                "-m",
                "kinesis_pipelines.emulators.fault_proxy",
                "--port",
                str(dynamodb_proxy),
                "--target-port",
                str(dynalite_port),
                "--throttle",
                "DynamoDB_20120810.UpdateItem",
                "--every",
                "2",
                "--tls-cert",
                cert,
                "--tls-key",
                key,
            ],
            tmp_path / "dynamodb-proxy.log",
        ),
    ]
    try:
        for port, proc in zip((kinesis_proxy, dynamodb_proxy), procs, strict=True):
            assert wait_for_port(port, 30, proc)
        yield {
            "kinesis": f"http://127.0.0.1:{kinesis_proxy}",
            "dynamodb": f"https://127.0.0.1:{dynamodb_proxy}",
        }
    finally:
        for proc in procs:
            stop_group(proc.pid, grace_seconds=2)


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


def _listening_port(pid: int) -> int:
    """The TCP port a process listens on (from /proc, no extra tools)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in inodes:
            return int(fields[1].split(":")[1], 16)
    raise AssertionError(f"process {pid} listens on no TCP port")
