"""Session-wide fixtures: one state home, one embedded AWS and one assembly jar per test session.

Every test runs with fake AWS credentials, so nothing can reach a real account by accident.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kinesis_pipelines.assembly.build import AssemblyJar, build_assembly
from kinesis_pipelines.emulators.local_aws import LocalAws, LocalAwsState
from kinesis_pipelines.home import HOME_ENV

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


DRIVER_JVM_OPTIONS = {"SPARK_SUBMIT_OPTS": "-XX:TieredStopAtLevel=1"}
"""The tests' Spark drivers (spark-submit's JVM in local mode, and pyspark's in the test process)
compile with C1 only: a driver that lives a minute spends most of its CPU in C2 compiles that
never pay off. The same 90 s of a 2-shard pipeline at 30 ids/s took 18.1 CPU-s with it, 31.5
without; behaviour is unchanged, and on a shared 2-core machine the suite's drivers wait for CPU
less. A value already in the environment is kept."""


@pytest.fixture(scope="session", autouse=True)
def session_home() -> Iterator[Path]:
    """A private state home and fake credentials for the whole session."""
    home = Path(tempfile.mkdtemp(prefix="kp-tests-"))
    saved = {key: os.environ.get(key) for key in [HOME_ENV, *FAKE_CREDENTIALS, *DRIVER_JVM_OPTIONS]}
    os.environ[HOME_ENV] = str(home)
    os.environ.update(FAKE_CREDENTIALS)
    for key, option in DRIVER_JVM_OPTIONS.items():
        os.environ.setdefault(key, option)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def local_aws(session_home: Path) -> Iterator[LocalAwsState]:
    aws = LocalAws(session_home)
    state = aws.start()
    try:
        yield state
    finally:
        aws.stop()


@pytest.fixture(scope="session")
def assembly_jar() -> AssemblyJar:
    return build_assembly()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: starts a local Spark (pyspark) in the test process")


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark what each test needs from the fixtures it uses, so `-m "not emulators"` and
    `-m "not maven"` select exactly the tests that need neither, and group for the workers what
    must share a process. Done as each test is collected: pytest-xdist reads the groups into the
    node ids in its own `pytest_collection_modifyitems`, which runs before this conftest's."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if "local_aws" in fixtures:
        item.add_marker(pytest.mark.emulators)
    if "assembly_jar" in fixtures:
        item.add_marker(pytest.mark.maven)
    group = worker_group(item, fixtures)
    if group:
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the slow tests first."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # on pytest-xdist workers, which take tests in this order: the YARN group first (the
        # longest unit one worker must take whole), then the other end-to-end tests, so that no
        # long test starts last while the other workers idle
        items.sort(key=schedule_rank)


def schedule_rank(item: pytest.Item) -> int:
    group = item.get_closest_marker("xdist_group")
    if group is not None and group.args == ("yarn",):
        return 0
    return 1 if item.get_closest_marker("e2e") else 2


def worker_group(item: pytest.Item, fixtures: set[str]) -> str | None:
    """Tests that must run in one worker process: those on the session's YARN minicluster (one
    per session, not one per worker), and those of a module whose fixtures are module-wide (an
    installed environment, a Dagster instance): else each worker would build its own."""
    if "yarn_cluster" in fixtures:
        return "yarn"
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    if any(defs and defs[-1].scope == "module" for defs in definitions.values()):
        return item.nodeid.split("::")[0]
    return None
