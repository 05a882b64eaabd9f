"""One fault campaign from start to end, for bench/faults.py and the suite's short version: the
pipeline deployed on an embedded AWS the caller started (2 shards, local Spark, the processor that
rejects poison records), the drivers' fence client behind a partition proxy, the producer started,
the seeded schedule run, then production stopped, the pipeline left to catch up, stopped
gracefully, and every id accounted for (fault_checker.py)."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from kinesis_pipelines import operations
from kinesis_pipelines.app.delivery import read_totals
from kinesis_pipelines.app.fencing import ENDPOINT_ENV, TTL_ENV
from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.home import job_path
from kinesis_pipelines.launch.submit import ledger_dir
from kinesis_pipelines_tests.e2e.helpers import make_spec
from kinesis_pipelines_tests.support.fault_campaign import FENCE_TTL_SECONDS, KINDS, Campaign
from kinesis_pipelines_tests.support.fault_checker import Report, check
from kinesis_pipelines_tests.support.fault_traffic import Producer, SinkWatcher
from kinesis_pipelines_tests.support.proxies import PartitionProxy

PROCESSOR = "kinesis_pipelines.app.processors:fail_on_poison"
QUIET_SECONDS = 180.0  # given up on catching up once nothing new was admitted for this long
CATCH_UP_TIMEOUT_SECONDS = 900.0
# The operator's limit on a roll's drain, short in a campaign so that a drain cut off by it (the
# driver exits 5) and the relaunch that drains the generation from its checkpoint are exercised too.
# (Before the receivers were stopped on their own, app/receiver_app.stop_intake, a graceful stop
# with the write-ahead log always waited out this limit: Spark closed the log first.)
DRAIN_TIMEOUT_SECONDS = 90.0


def run_campaign(
    aws: LocalAws,
    work: Path,
    *,
    seed: int,
    minutes: float,
    rate: float,
    bad_every: float = 60.0,
    kinds: tuple[str, ...] = KINDS,
    gap: tuple[float, float] = (10, 40),
    name: str = "faults",
    say: Callable[[str], None] | None = None,
) -> Report:
    """`aws` must be started by the caller (this campaign restarts its emulators) and the state
    home set; `work` is a folder for the campaign's own files."""
    assert aws.state is not None
    say = say or (lambda message: print(message, flush=True))
    rng = random.Random(seed)
    proxy = PartitionProxy(int(aws.state.endpoint("dynamodb").rsplit(":", 1)[1]))
    saved = {key: os.environ.get(key) for key in (TTL_ENV, ENDPOINT_ENV)}
    os.environ[TTL_ENV] = str(FENCE_TTL_SECONDS)
    os.environ[ENDPOINT_ENV] = f"https://127.0.0.1:{proxy.port}"  # the fence client's DynamoDB only
    spec = make_spec(
        name, shards=2, processor=PROCESSOR, executor_cores=4, drain_timeout_seconds=DRAIN_TIMEOUT_SECONDS
    )
    backends = operations.backends_for(spec)
    sink = Path(job_path(spec.job.sink.path))
    run_id = f"{name}-{seed}"
    producer = Producer(backends.stream.client, spec.stream.name, run_id, rate, bad_every, seed)
    campaign = Campaign(spec, aws, proxy, producer, SinkWatcher(sink, run_id), work, rng, say)
    try:
        say(f"deploying {spec.name} (2 shards, {PROCESSOR})")
        operations.deploy(spec, backends, progress=say)
        campaign.remember_driver()
        producer.start()
        time.sleep(20)  # a baseline before the first fault
        campaign.run(minutes, kinds, gap)
        producer.stop()
        say(f"schedule done: {len(producer.ids)} ids and {len(producer.bad)} bad records put; catching up")
        catch_up(campaign)
        stop_drained(campaign)
        say(f"ledger totals: {read_totals(ledger_dir(campaign.spec))}")
        report = check(
            campaign.spec, sink, producer.ids, producer.put_times, producer.ambiguous, producer.bad,
            campaign.events,
        )  # fmt: skip
        return report.model_copy(
            update={
                "spark_stop_timeouts": campaign.spark_stop_timeouts(),
                "final_redeploys": campaign.final_redeploys,
            }
        )
    finally:
        producer.stopping.set()
        proxy.heal()
        campaign.close()
        proxy.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


FINAL_STOP_TRIES = 3


def stop_drained(campaign: Campaign) -> None:
    """Stop the pipeline gracefully. A stop that had to kill the driver (its graceful stop did not
    end in time) leaves the batches the generation received in its checkpoint, undelivered: the
    operator's next deploy of the same spec resumes that generation and delivers them, so the
    campaign does that (up to FINAL_STOP_TRIES stops) before it counts."""
    for attempt in range(1, FINAL_STOP_TRIES + 1):
        backends = operations.backends_for(campaign.spec)
        campaign.say("stopping the pipeline gracefully")
        status = operations.stop(campaign.spec, backends, progress=campaign.say)
        if status is None or status.exit_code == 0 or attempt == FINAL_STOP_TRIES:
            return
        campaign.say(
            f"the stop ended the driver without a clean exit ({status.state.value}, exit "
            f"{status.exit_code}): deploying the spec again to deliver what its generation holds"
        )
        campaign.final_redeploys += 1
        operations.deploy(campaign.spec, operations.backends_for(campaign.spec), progress=campaign.say)
        catch_up(campaign)


def catch_up(campaign: Campaign) -> None:
    """Until every id is out or dead-lettered (the ledger's count says so), or nothing new came
    out for QUIET_SECONDS; the supervisor keeps looking meanwhile."""
    producer, watcher = campaign.producer, campaign.watcher
    wanted = set(producer.ids)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
    seen, changed_at = -1, time.monotonic()
    while time.monotonic() < deadline:
        out = watcher.refresh()
        totals = read_totals(ledger_dir(campaign.spec))
        if totals["admitted"] != seen:  # delivered or dead-lettered
            seen, changed_at = totals["admitted"], time.monotonic()
        if wanted <= out or totals["admitted"] >= len(wanted) + len(producer.bad):
            return
        if time.monotonic() - changed_at > QUIET_SECONDS:
            campaign.say(f"nothing admitted for {QUIET_SECONDS:.0f} s: {len(wanted - out)} ids not out")
            return
        campaign.supervise()
        time.sleep(5)
