from __future__ import annotations

from collections.abc import Iterator

import pytest

from kinesis_pipelines.operations import backends_for
from kinesis_pipelines.spec import PipelineSpec


@pytest.fixture
def cleanup_drivers() -> Iterator[list[PipelineSpec]]:
    """Specs appended here get their drivers killed after the test, pass or fail."""
    specs: list[PipelineSpec] = []
    yield specs
    for spec in specs:
        backends = backends_for(spec)
        record = backends.store.driver()
        if record is not None:
            backends.launcher.kill(record)
