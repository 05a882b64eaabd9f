"""Snapshot of what the code location holds, and the rules applied while building it."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions.freshness import TimeWindowFreshnessPolicy

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.orchestration import build_definitions
from kinesis_pipelines_tests.e2e.helpers import make_spec


def test_definitions_module_loads_the_examples() -> None:
    from kinesis_pipelines.definitions import defs

    repo = defs().get_repository_def()
    keys = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert keys == {
        "kinesis_asl_assembly/spark_3_3_0",
        "records/stream",
        "records/app_table",
        "records/streaming_job",
        "records/output",
        "wordcount/stream",
        "wordcount/app_table",
        "wordcount/streaming_job",
        "wordcount/output",
    }
    jobs = {job.name for job in repo.get_all_jobs()} - {"__ASSET_JOB"}
    kinds = ("deploy", "stop", "restart", "rebalance")
    pipelines = ("records", "wordcount")
    assert jobs == {f"{p}__{j}" for p in pipelines for j in kinds}
    assert {s.name: s.job_name for s in repo.sensor_defs} == {
        f"{p}__health": f"{p}__restart" for p in pipelines
    }
    assert {s.name: (s.job_name, s.cron_schedule) for s in repo.schedule_defs} == {
        f"{p}__rebalance_schedule": (f"{p}__rebalance", "*/15 * * * *") for p in pipelines
    }
    checks = {(key.asset_key.to_user_string(), key.name) for key in repo.asset_graph.asset_check_keys}
    assert checks == {
        (f"{p}/streaming_job", check)
        for p in pipelines
        for check in ("job_healthy", "lag_under_limit", "no_dead_letters_waiting", "restarts_within_budget")
    }
    # the shipped pipelines reach the same embedded AWS: one resource for them all
    resources = set(repo.get_top_level_resources())
    assert len(resources) == 1 and next(iter(resources)).startswith("kinesis_aws_us_east_1_"), resources


def test_assets_carry_kinds_groups_and_dependencies() -> None:
    spec = make_spec("orders", shards=2)
    graph = build_definitions([spec]).get_repository_def().asset_graph
    job = graph.get(dg.AssetKey(["orders", "streaming_job"]))
    assert job.kinds == {"spark"}
    assert job.group_name == "orders"
    assert {k.to_user_string() for k in job.parent_keys} == {
        "orders/stream",
        "orders/app_table",
        "kinesis_asl_assembly/spark_3_3_0",
    }
    output = graph.get(dg.AssetKey(["orders", "output"]))
    assert {k.to_user_string() for k in output.parent_keys} == {"orders/streaming_job"}
    assert not output.is_materializable  # the streaming job writes it; the sensor reports it
    policy = output.freshness_policy
    assert isinstance(policy, TimeWindowFreshnessPolicy) and policy.warn_window is not None
    # 2 s batches: warn after 60 s without a completed batch, fail after 120 s
    windows = (policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta())
    assert [window.total_seconds() for window in windows] == [60, 120]
    assert graph.get(dg.AssetKey(["orders", "stream"])).kinds == {"kinesis"}
    assert graph.get(dg.AssetKey(["orders", "app_table"])).kinds == {"dynamodb"}


def test_one_assembly_asset_for_pipelines_on_one_spark_version() -> None:
    defs = build_definitions([make_spec("a", 1), make_spec("b", 1)])
    keys = defs.get_repository_def().asset_graph.get_all_asset_keys()
    assert sum(1 for key in keys if key.path[0] == "kinesis_asl_assembly") == 1


def test_duplicate_pipeline_names_are_refused() -> None:
    with pytest.raises(SpecError, match="is already used"):
        build_definitions([make_spec("a", 1), make_spec("a", 2)])


def test_unimportable_processor_fails_the_load_not_the_driver() -> None:
    spec = make_spec("bad", 1, processor="no_such_package.mod:fn")
    with pytest.raises(SpecError, match=r"pipeline bad: job\.processor"):
        build_definitions([spec])


def test_the_lag_check_says_it_could_not_measure() -> None:
    from kinesis_pipelines.orchestration.checks import check_evaluations
    from kinesis_pipelines.state import SupervisorMemory

    memory = SupervisorMemory(lag_unknown="Kinesis is unreachable")
    (lag,) = [
        e
        for e in check_evaluations(make_spec("orders", shards=1), memory, 0)
        if e.check_name == "lag_under_limit"
    ]
    assert not lag.passed and lag.severity is dg.AssetCheckSeverity.WARN
    assert lag.description == "could not measure the lag: Kinesis is unreachable"
