"""Assembly build cold (empty jar cache and empty Maven repository) and warm (cache hit).

.venv/bin/python bench/assembly.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinesis_pipelines.assembly.build import build_assembly


def main() -> None:
    cache = Path(tempfile.mkdtemp(prefix="kp-bench-jar-"))
    maven_repo = Path(tempfile.mkdtemp(prefix="kp-bench-m2-"))
    os.environ["MAVEN_OPTS"] = f"-Dmaven.repo.local={maven_repo}"
    try:
        t0 = time.monotonic()
        cold = build_assembly(cache_dir=cache)
        cold_seconds = time.monotonic() - t0
        t0 = time.monotonic()
        warm = build_assembly(cache_dir=cache)
        warm_seconds = time.monotonic() - t0
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(maven_repo, ignore_errors=True)
    assert warm.cache_hit and warm.sha256 == cold.sha256
    print(f"cold build (empty Maven repo)  {cold_seconds:.1f} s, {cold.size_bytes / 2**20:.1f} MiB")
    print(f"warm build (cache hit)         {warm_seconds * 1000:.0f} ms")
    print(f"ratio cold/warm                {cold_seconds / warm_seconds:,.0f}")


if __name__ == "__main__":
    main()
