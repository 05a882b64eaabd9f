"""Spark checkpoint generations.

`StreamingContext.getOrCreate` pickles the job's Python functions and Spark settings into its
checkpoint; a restart from that checkpoint runs the old ones. Any change to what the driver runs
(code, config, receiver count) therefore gets a new checkpoint directory, a new generation, while
the KCL checkpoints in DynamoDB carry every shard's position across the switch.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def checkpoint_generation(job_config: dict[str, Any], code_digest: str) -> str:
    """A stable id for what a driver would run: same inputs, same generation."""
    canonical = json.dumps({"config": job_config, "code": code_digest}, sort_keys=True, separators=(",", ":"))
    return "gen-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]
