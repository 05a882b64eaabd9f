"""The Dagster pages an operator watches, captured in a real browser (headless Chromium).

    .venv/bin/python docs/capture_screenshots.py        # about 8 minutes; needs `chromium`

It starts the embedded AWS, a real dagster-webserver and dagster-daemon on this repository's
workspace, deploys the shipped `records` pipeline through its deploy job, produces records, lets
the health sensor watch it, kills the driver so the sensor's restart run replaces it, lets it
watch again, and then captures each page into docs/screenshots/. Everything it started is
stopped when it ends, however it ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kinesis_pipelines import operations  # noqa: E402
from kinesis_pipelines.emulators.local_aws import LocalAws  # noqa: E402
from kinesis_pipelines.producer import put_all, unique_ids  # noqa: E402
from kinesis_pipelines.spec import load_spec  # noqa: E402
from kinesis_pipelines_tests.support.dagster_services import dagster_services, runs_of, wait_run  # noqa: E402

OUT = REPO / "docs" / "screenshots"
# name: (path, the button to click first, if any)
PAGES = {
    "streaming-job-plots": ("/assets/records/streaming_job", "Plots"),
    "streaming-job-events": ("/assets/records/streaming_job?view=events", None),
    "lag-check": ("/assets/records/streaming_job?view=checks&checkDetail=lag_under_limit", None),
    "output-freshness": ("/assets/records/output", None),
    "runs": ("/runs", None),
    "health-sensor": ("/locations/kinesis_pipelines/sensors/records__health", None),
}


def capture(base: str, name: str, path: str, click: str | None = None) -> Path:
    """One page, in headless Chromium driven by playwright-core (scripts/screenshot_asset_graph.js:
    it waits for the network to settle and dismisses Dagster's first-visit dialog)."""
    tools = Path.home() / ".cache" / "kinesis-pipelines" / "playwright"
    if not (tools / "node_modules" / "playwright-core").exists():
        subprocess.run(
            ["npm", "install", "--prefix", str(tools), "--no-audit", "--no-fund", "--loglevel=error",
             "playwright-core@1.57.0"],
            check=True,
        )  # fmt: skip
    target = OUT / f"{name}.png"
    subprocess.run(
        ["node", str(REPO / "scripts" / "screenshot_asset_graph.js"), base + path, str(target),
         *([click] if click else [])],
        check=True, timeout=180, env={**os.environ, "NODE_PATH": str(tools / "node_modules")},
    )  # fmt: skip
    print(f"captured {target.relative_to(REPO)} from {path}")
    return target


def produce(spec_path: Path, stop: threading.Event) -> None:
    spec = load_spec(spec_path)
    client = operations.backends_for(spec).stream.client
    batch = 0
    while not stop.is_set():
        put_all(client, spec.stream.name, unique_ids(f"shot{batch}", 100), rate_per_second=50)
        batch += 1


def main() -> None:
    # a fixed, generic state home: its paths show in the pictures
    home = Path(tempfile.gettempdir()) / "kinesis-pipelines-capture"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    os.environ["KINESIS_PIPELINES_HOME"] = str(home)
    OUT.mkdir(parents=True, exist_ok=True)
    aws = LocalAws(home)
    aws.start()
    spec_path = REPO / "kinesis_pipelines" / "defs" / "records" / "defs.yaml"
    stop = threading.Event()
    try:
        with dagster_services(home, env={"KINESIS_PIPELINES_HOME": str(home)}) as client:
            base = client._url.removesuffix("/graphql")
            run_id = client.submit_job_execution("records__deploy")
            print(f"deploy run {run_id}: {wait_run(client, run_id)}")
            producer = threading.Thread(target=produce, args=(spec_path, stop), daemon=True)
            producer.start()
            time.sleep(150)  # the sensor records on change and every minute: a few points to plot
            spec = load_spec(spec_path)
            record = operations.backends_for(spec).store.driver()
            assert record is not None and record.pid is not None
            print(f"killing the driver {record.driver_id} (process group {record.pid})")
            os.killpg(record.pid, signal.SIGKILL)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not [
                r for r in runs_of(client, "records__restart") if r["status"] == "SUCCESS"
            ]:
                time.sleep(5)
            print("the sensor's restart run succeeded; watching again")
            time.sleep(120)
            for name, (path, click) in PAGES.items():
                try:
                    capture(base, name, path, click)
                except subprocess.CalledProcessError as exc:
                    print(f"could not capture {name}: {exc}")
    finally:
        stop.set()
        try:  # the driver too, however the capture ended
            spec = load_spec(spec_path)
            operations.stop(spec, operations.backends_for(spec), by="capture")
        except Exception as exc:
            print(f"could not stop the records pipeline: {exc}")
        aws.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
