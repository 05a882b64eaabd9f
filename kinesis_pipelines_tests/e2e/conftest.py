from __future__ import annotations

from collections.abc import Iterator

import pytest

from kinesis_pipelines.launch.local import LocalProcessLauncher
from kinesis_pipelines.pipeline import resources_for
from kinesis_pipelines.spec import PipelineSpec


@pytest.fixture
def cleanup_drivers() -> Iterator[list[PipelineSpec]]:
    """Specs appended here get their drivers killed after the test, pass or fail."""
    specs: list[PipelineSpec] = []
    yield specs
    for spec in specs:
        record = resources_for(spec).job.current()
        if record is not None:
            LocalProcessLauncher().kill(record)
