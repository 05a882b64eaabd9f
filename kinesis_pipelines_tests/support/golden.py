"""Golden files: expected output kept beside the tests. `KP_UPDATE_GOLDEN=1 pytest ...` rewrites
them from the current output (then review the diff before committing it)."""

from __future__ import annotations

import os
from pathlib import Path


def assert_golden(actual: str, golden: Path) -> None:
    if os.environ.get("KP_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual)
    assert golden.exists(), f"{golden} is missing: run with KP_UPDATE_GOLDEN=1 to write it"
    expected = golden.read_text()
    assert actual == expected, f"output differs from {golden} (KP_UPDATE_GOLDEN=1 rewrites it)"
