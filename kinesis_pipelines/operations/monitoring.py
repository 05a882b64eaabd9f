"""Reading a running driver's monitoring API (Spark's REST API on the driver's UI port)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import requests

from kinesis_pipelines.launch import DriverRecord, Launcher


def driver_api(launcher: Launcher, record: DriverRecord, path: str, timeout: float = 3.0) -> Any:
    """GET `path` under the driver's application, or None while it has nothing to give."""
    info = launcher.driver_info(record)
    if info is None:
        return None
    url = f"{record.ui_url}/api/v1/applications/{info.application_id}/{path}"
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    return response.json() if response.ok else None


def streaming_statistics(launcher: Launcher, record: DriverRecord) -> dict[str, Any] | None:
    return driver_api(launcher, record, "streaming/statistics")


def completed_batches(launcher: Launcher, record: DriverRecord) -> list[dict[str, Any]]:
    return driver_api(launcher, record, "streaming/batches?status=COMPLETED") or []


def receivers(launcher: Launcher, record: DriverRecord) -> list[dict[str, Any]]:
    return driver_api(launcher, record, "streaming/receivers") or []


def newest_batch(batches: list[dict[str, Any]]) -> tuple[float, int] | None:
    """(batch time, input records) of the newest batch the monitoring API listed (it lists the
    newest first), or None."""
    inputs = batch_inputs(batches[:1])
    return inputs[0] if inputs else None


def batch_inputs(batches: list[dict[str, Any]]) -> list[tuple[float, int]]:
    """(batch time in epoch seconds, input records) of each batch the monitoring API listed."""
    pairs = []
    for batch in batches:
        try:
            moment = datetime.strptime(str(batch["batchTime"]), "%Y-%m-%dT%H:%M:%S.%f%Z")
            pairs.append((moment.replace(tzinfo=timezone.utc).timestamp(), int(batch.get("inputSize", 0))))
        except (KeyError, TypeError, ValueError):
            continue
    return pairs
