"""Pure planning: numbers in, plans out. No clients, no clock reads, no environment."""

from kinesis_pipelines.planning.generations import checkpoint_generation
from kinesis_pipelines.planning.receivers import ReceiverPlan, block_interval_ms, plan_receivers

__all__ = ["ReceiverPlan", "block_interval_ms", "checkpoint_generation", "plan_receivers"]
