"""The fault campaign's traffic and its network fault: a producer of unique ids (with occasional
bad records) that remembers when it put each one, a watcher of the sink that reads each published
batch once, and a TCP proxy that can partition a driver's fence client from DynamoDB and heal.

Used by bench/faults.py and kinesis_pipelines_tests/e2e/test_fault_campaign.py."""

from __future__ import annotations

import bisect
import contextlib
import random
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kinesis_pipelines.app.processors import POISON_PREFIX
from kinesis_pipelines.app.sinks import BATCH_PREFIX
from kinesis_pipelines.producer import MAX_BATCH

TICK_SECONDS = 0.25  # the producer puts a small batch this often


class BadRecord(BaseModel):
    """A record the pipeline must dead-letter: bytes that are not UTF-8, or a poison record."""

    kind: str  # "not_utf8" or "poison"
    data_hex: str
    put_at: float

    def data(self) -> bytes:
        return bytes.fromhex(self.data_hex)


def not_utf8(run_id: str, n: int) -> bytes:
    """Distinct bytes that are not UTF-8 (a lone continuation byte and an invalid pair)."""
    return b"\xff\xfe " + f"{run_id}-bad-{n}".encode() + b" \xc3\x28"


class Producer(threading.Thread):
    """Puts `run_id-000000001`, ... at `rate` records/s until stopped, plus a bad record every
    `bad_every` seconds on average and never more than one and a half times that apart
    (alternately not UTF-8 and poison), so a run of known length has a known least number of
    them. A fault that takes `gate` pauses it. A put that raised may or may not have been
    written: its ids are `ambiguous` (a retry can then put them twice, which is the producer's
    duplicate, not the pipeline's)."""

    def __init__(
        self, client: Any, stream: str, run_id: str, rate: float, bad_every: float, seed: int
    ) -> None:
        super().__init__(daemon=True, name="fault-campaign-producer")
        self.client, self.stream, self.run_id, self.rate = client, stream, run_id, rate
        self.bad_every = bad_every
        self.rng = random.Random(seed)
        self.gate = threading.Lock()
        self.stopping = threading.Event()
        self.put_times: list[float] = []  # in put order, beside `ids`
        self.ids: list[str] = []
        self.bad: list[BadRecord] = []
        self.ambiguous: set[str] = set()
        self.errors: list[str] = []

    def run(self) -> None:
        started = time.monotonic()
        next_bad = time.time() + self._bad_gap() if self.bad_every else None
        sent = 0
        while not self.stopping.is_set():
            due = int((time.monotonic() - started) * self.rate) - sent
            if due > 0:
                batch = [f"{self.run_id}-{n:09d}" for n in range(sent, sent + min(due, MAX_BATCH))]
                with self.gate:
                    self._put([(i.encode(), i) for i in batch], batch)
                sent += len(batch)
            if next_bad is not None and time.time() >= next_bad:
                with self.gate:
                    self.put_bad()
                next_bad = time.time() + self._bad_gap()
            time.sleep(TICK_SECONDS)

    def _bad_gap(self) -> float:
        return self.bad_every * self.rng.uniform(0.5, 1.5)

    def put_bad(self, kind: str | None = None) -> BadRecord:
        """One bad record now; alternately not UTF-8 and poison unless `kind` says which."""
        n = len(self.bad)
        kind = kind or ("not_utf8" if n % 2 == 0 else "poison")
        data = (
            not_utf8(self.run_id, n) if kind == "not_utf8" else f"{POISON_PREFIX}-{self.run_id}-{n}".encode()
        )
        self._put([(data, f"{self.run_id}-bad-{n}")], [])
        record = BadRecord(kind=kind, data_hex=data.hex(), put_at=time.time())
        self.bad.append(record)
        return record

    def _put(self, entries: list[tuple[bytes, str]], ids: list[str]) -> None:
        pending: list[dict[str, Any]] = [{"Data": data, "PartitionKey": key} for data, key in entries]
        attempt = 0
        while pending:
            try:
                response = self.client.put_records(StreamName=self.stream, Records=pending)
            except Exception as exc:  # an outage: written or not, we cannot know
                self.errors.append(f"{time.time():.1f} {type(exc).__name__}: {exc}"[:300])
                self.ambiguous.update(str(entry["PartitionKey"]) for entry in pending)
                time.sleep(1)
                continue
            pending = [e for e, r in zip(pending, response["Records"], strict=True) if "ErrorCode" in r]
            if pending:
                attempt += 1
                time.sleep(min(2.0, 0.05 * 2**attempt))
        now = time.time()
        self.ids.extend(ids)
        self.put_times.extend([now] * len(ids))

    def index_after(self, moment: float) -> int:
        """The put order of the first id put after `moment` (it may not be put yet)."""
        return bisect.bisect_right(self.put_times, moment)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


class SinkWatcher:
    """The ids published so far, reading each batch directory once (a batch published again has
    the same lines), and the highest put order among them (ids are `<run_id>-<order>`). For
    waiting; the checker reads the whole sink again at the end."""

    def __init__(self, sink: Path, run_id: str) -> None:
        self.sink, self.prefix = sink, f"{run_id}-"
        self.read: set[str] = set()
        self.ids: set[str] = set()
        self.highest = -1

    def refresh(self) -> set[str]:
        if self.sink.is_dir():
            for batch in sorted(self.sink.iterdir()):
                if batch.name.startswith(BATCH_PREFIX) and batch.name not in self.read:
                    for part in batch.glob("part-*"):
                        with contextlib.suppress(OSError):
                            lines = part.read_text().splitlines()
                            self.ids.update(lines)
                            orders = [
                                line[len(self.prefix) :] for line in lines if line.startswith(self.prefix)
                            ]
                            self.highest = max([self.highest, *(int(o) for o in orders if o.isdigit())])
                    self.read.add(batch.name)
        return self.ids
