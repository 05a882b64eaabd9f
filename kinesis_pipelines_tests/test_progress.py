"""Progress of long external steps: a line every few seconds, with what the step has done."""

from __future__ import annotations

import sys

from kinesis_pipelines.assembly.build import MavenProgress
from kinesis_pipelines.progress import Summary, run_with_progress


def test_a_silent_step_still_says_it_is_running() -> None:
    said: list[str] = []
    script = "; ".join(
        [
            "import time",
            "[(print('fetched', i, flush=True), time.sleep(0.4)) for i in range(3)]",
            "time.sleep(0.5)",
        ]
    )
    code, lines = run_with_progress(
        [sys.executable, "-c", script],
        said.append,
        "step",
        Summary("things", lambda line: "fetched" in line),
        every=0.3,
    )
    assert code == 0 and lines == ["fetched 0", "fetched 1", "fetched 2"]
    assert said and all(line.startswith("step: ") for line in said)
    assert any("3 things" in line for line in said)
    assert any("3 things, still" in line for line in said)  # the silent half second at the end


def test_maven_progress_counts_downloads_and_bundles() -> None:
    progress = MavenProgress()
    assert progress("[INFO] Building assembly") is None
    assert progress("Downloaded from central: https://repo/a.jar (1.5 MB at 2 MB/s)") == (
        "resolving dependencies, 1 artifacts downloaded (1.5 MB)"
    )
    progress("[INFO] --- maven-shade-plugin:3.5.1:shade (default) @ x ---")
    assert progress("[INFO] Including a:b:jar:1 in the shaded jar.") == (
        "shading, 1 artifacts downloaded (1.5 MB), 1 bundled"
    )
