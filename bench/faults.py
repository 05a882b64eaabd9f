"""The fault campaign: a seeded, random schedule of faults on one running pipeline while a
producer puts unique ids, then a checker that accounts for every id.

    .venv/bin/python bench/faults.py [--seed 19] [--minutes 30] [--rate 30] [--json]

Starts its own embedded AWS (127.0.0.1 only) in a throwaway state home, deploys a pipeline with
2 shards on local Spark (the processor `fail_on_poison`) and puts `--rate` unique ids a second,
with a bad record about once a minute (bytes that are not UTF-8, or a "poison-N" record the
processor rejects). Faults, one after the other with a quiet gap between them, each waited out:
driver kill, orchestrator kill in the middle of a roll, spec change, rebalance (a reshard and its
roll), emulator restart (Kinesis or DynamoDB), DynamoDB partition of the driver's fence client
(kinesis_pipelines_tests/support/fault_campaign.py says how each is made and recovered). Then
production stops, the pipeline catches up and is stopped gracefully, and every id is looked for in
the sink and the dead-letter location. Prints a table of fault kinds against outcomes (or, with
--json, the whole report) and exits 1 if any id was lost or duplicated. Everything it started
(emulators, drivers, orchestrator children) is stopped however it ends.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import isolated_home
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines_tests.support.fault_checker import render
from kinesis_pipelines_tests.support.fault_run import run_campaign


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long faults are injected")
    parser.add_argument("--rate", type=float, default=30.0, help="unique ids put per second")
    parser.add_argument("--bad-every", type=float, default=60.0, help="mean seconds between bad records")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args()
    home = isolated_home()
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    say(f"state home {home}; seed {args.seed}, {args.minutes:g} min of faults, {args.rate:g} ids/s")
    aws = LocalAws(home, say=say)
    aws.start()
    try:
        work = home / "campaign"
        work.mkdir()
        report = run_campaign(
            aws, work, seed=args.seed, minutes=args.minutes, rate=args.rate, bad_every=args.bad_every, say=say
        )
    finally:
        aws.stop()
    (home / "campaign" / "report.json").write_text(report.model_dump_json(indent=2))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(f"fault campaign: seed {args.seed}, {args.minutes:g} min of faults, {args.rate:g} ids/s")
        print(render(report))
    if report.lost_ids:
        print(
            f"lost ids (first {len(report.lost_ids)}): {' '.join(report.lost_ids[:20])} ...", file=sys.stderr
        )
    if report.duplicated_ids:
        print(f"duplicated ids: {' '.join(report.duplicated_ids[:20])} ...", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
