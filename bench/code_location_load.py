"""Code-location load time and memory with 1, 10 and 100 pipelines (target: under 3 s for 100).

    .venv/bin/python bench/code_location_load.py

Each size is a fresh throwaway dg project loaded in a fresh interpreter, the way the webserver
and daemon load a code location: `dagster definitions validate` would add CLI start-up, so the
child process times `dg.load_from_defs_folder(project_root=...).get_repository_def()` (what a
stock dg project's definitions.py calls) and reports its own
peak RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIPELINE = """\
type: kinesis_pipelines.components.KinesisPipeline
attributes:
  name: p{i:03d}
  stream: {{name: s-{i:03d}, endpoint_url: embedded, shards: 2}}
  app_table: {{application_name: app-{i:03d}, endpoint_url: embedded}}
  job: {{checkpoint_dir: cp, sink: {{path: out/{i:03d}}}, executor_cores: 3}}
"""

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    t0 = time.perf_counter()
    import dagster as dg
    import kinesis_pipelines.components  # noqa: F401
    imported = time.perf_counter()
    repo = dg.load_from_defs_folder(project_root=__import__("pathlib").Path(sys.argv[1])).get_repository_def()
    done = time.perf_counter()
    print(json.dumps({
        "import_s": imported - t0, "load_s": done - imported,
        "assets": len(list(repo.asset_graph.get_all_asset_keys())),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
    """
)


def make_project(root: Path, count: int) -> None:
    package = root / "bench_project"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench_project"\nversion = "0"\n[tool.dg]\ndirectory_type = "project"\n'
        '[tool.dg.project]\nroot_module = "bench_project"\ndefs_module = "bench_project.defs"\n'
    )
    for i in range(count):
        (package / "defs" / f"p{i:03d}").mkdir()
        (package / "defs" / f"p{i:03d}" / "defs.yaml").write_text(PIPELINE.format(i=i))


def main() -> None:
    rows = []
    for count in (1, 10, 100):
        with tempfile.TemporaryDirectory() as tmp:
            make_project(Path(tmp), count)
            result = subprocess.run(
                [sys.executable, "-c", CHILD, tmp],
                capture_output=True,
                text=True,
                env={"PYTHONPATH": tmp, "PATH": "/usr/bin:/bin"},
            )
            if result.returncode != 0:
                raise SystemExit(result.stderr[-3000:])
            rows.append((count, json.loads(result.stdout.strip().splitlines()[-1])))
    print(f"{'pipelines':>9} {'assets':>7} {'import s':>9} {'load s':>7} {'peak RSS MiB':>13}")
    for count, row in rows:
        print(
            f"{count:>9} {row['assets']:>7} {row['import_s']:>9.2f} {row['load_s']:>7.2f} "
            f"{row['peak_rss_mib']:>13.0f}"
        )
    base = rows[0][1]["load_s"]
    print(f"load time ratio 100/1: {rows[-1][1]['load_s'] / base:.1f}")


if __name__ == "__main__":
    main()
