from kinesis_pipelines.planning import checkpoint_generation


def test_same_inputs_same_generation() -> None:
    config = {"receivers": 2, "conf": {"a": "1", "b": "2"}}
    reordered = {"conf": {"b": "2", "a": "1"}, "receivers": 2}
    assert checkpoint_generation(config, "abc") == checkpoint_generation(reordered, "abc")


def test_config_or_code_change_gives_new_generation() -> None:
    base = checkpoint_generation({"receivers": 2}, "abc")
    assert checkpoint_generation({"receivers": 3}, "abc") != base
    assert checkpoint_generation({"receivers": 2}, "abd") != base
    assert base.startswith("gen-")
