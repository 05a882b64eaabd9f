"""Reading Spark's monitoring API answers (pure parsing; the API itself is exercised end to end)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kinesis_pipelines.operations.monitoring import batch_inputs


def test_batch_times_and_input_sizes_are_read_and_bad_entries_skipped() -> None:
    batches: list[dict[str, Any]] = [
        {"batchTime": "2026-11-28T03:50:06.000GMT", "inputSize": 40},
        {"batchTime": "not a time", "inputSize": 9},
        {"inputSize": 3},
    ]
    moment = datetime(2026, 11, 28, 3, 50, 6, tzinfo=timezone.utc).timestamp()
    assert batch_inputs(batches) == [(moment, 40)]
