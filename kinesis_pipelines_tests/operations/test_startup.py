"""After a deploy: the wait for the receivers' leases, bounded by the spec's startup grace."""

from __future__ import annotations

from typing import Any

from kinesis_pipelines.aws.dynamodb import Lease
from kinesis_pipelines.launch import launcher_for
from kinesis_pipelines.operations.backends import Backends
from kinesis_pipelines.operations.startup import LeasesTaken, wait_after_deploy
from kinesis_pipelines.state import PipelineStore
from kinesis_pipelines_tests.e2e.helpers import make_spec


class Table:
    def __init__(self, leases: list[Lease]) -> None:
        self._leases = leases

    def leases(self) -> list[Lease]:
        return self._leases


def backends_with(leases: list[Lease], grace: float) -> Backends:
    spec = make_spec("starting", shards=2)
    spec = spec.model_copy(
        update={"supervision": spec.supervision.model_copy(update={"startup_grace_seconds": grace})}
    )
    table: Any = Table(leases)
    return Backends(spec, launcher=launcher_for(spec), store=PipelineStore(spec.name), app_table=table)


def test_nothing_is_awaited_when_the_deploy_started_nothing() -> None:
    assert wait_after_deploy(backends_with([], 0.1), {}, "unchanged", ["s-0"]) is None


def test_leases_whose_counters_moved_past_the_deploy_count() -> None:
    leases = [Lease(shard_id="s-0", checkpoint=None, owner="w1", counter=3)]
    waited = wait_after_deploy(backends_with(leases, 5), {"s-0": 2}, "started", ["s-0"])
    assert isinstance(waited, LeasesTaken) and (waited.shards, waited.owners) == (1, 1)


def test_a_stale_lease_is_waited_for_only_as_long_as_the_startup_grace() -> None:
    leases = [Lease(shard_id="s-0", checkpoint=None, owner="dead", counter=2)]
    waited = wait_after_deploy(backends_with(leases, 0.2), {"s-0": 2}, "replaced", ["s-0"])
    assert isinstance(waited, str) and "after 0 s, 0 of 1 shard lease(s) have an owner" in waited
