"""Who a driver is to the fence: the launcher's name for it, or its YARN application attempt."""

from __future__ import annotations

from kinesis_pipelines.app import control
from kinesis_pipelines.app.fencing import fence_identity


def test_yarn_attempts_of_one_application_share_a_prefix() -> None:
    owner, earlier = fence_identity({"CONTAINER_ID": "container_e03_1700000000000_0007_02_000001"}, "g1")
    assert owner == "yarn:application_1700000000000_0007:2:g1"
    assert earlier == "yarn:application_1700000000000_0007:"
    second, _ = fence_identity({"CONTAINER_ID": "container_1700000000000_0007_03_000001"}, "g1")
    assert second.startswith(earlier) and second != owner


def test_a_launcher_named_owner_wins_and_a_plain_process_takes_over_from_nobody() -> None:
    assert fence_identity({control.FENCE_OWNER_ENV: "local-1:2", "CONTAINER_ID": "x"}, "g") == (
        "local-1:2",
        None,
    )
    owner, earlier = fence_identity({}, "g")
    assert owner.endswith(":g") and earlier is None


def test_with_the_write_ahead_log_the_receivers_keep_one_replica() -> None:
    """Spark keeps one replica under the write-ahead log whatever the level says, and warns for
    every receiver; asking for one says the same without the noise."""
    from kinesis_pipelines.app.receiver_app import effective_storage_level

    assert effective_storage_level("MEMORY_AND_DISK_2", write_ahead_log=True) == "MEMORY_AND_DISK"
    assert effective_storage_level("MEMORY_AND_DISK_2", write_ahead_log=False) == "MEMORY_AND_DISK_2"
    assert effective_storage_level("DISK_ONLY", write_ahead_log=True) == "DISK_ONLY"
