from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.spec import (
    CapacityMode,
    InitialPosition,
    PipelineSpec,
    load_spec,
    parse_spec,
)

EXAMPLES = Path(__file__).parents[1] / "kinesis_pipelines" / "defs"

VALID = {
    "name": "orders",
    "stream": {"name": "orders-stream", "region": "eu-west-1", "shards": 2},
    "app_table": {"application_name": "orders-app"},
    "job": {"checkpoint_dir": "/tmp/cp", "sink": {"path": "/tmp/out"}},
}


def spec_with(path: str, value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def error_for(data: dict) -> str:
    with pytest.raises(SpecError) as caught:
        parse_spec(yaml.safe_dump(data), source="pipeline.yaml")
    return str(caught.value)


def test_examples_are_valid() -> None:
    for path in EXAMPLES.glob("*/defs.yaml"):
        assert isinstance(load_spec(path), PipelineSpec)


def test_defaults() -> None:
    spec = PipelineSpec.model_validate(VALID)
    assert spec.stream.capacity_mode is CapacityMode.PROVISIONED
    assert spec.job.initial_position is InitialPosition.TRIM_HORIZON
    assert spec.credentials.source == "default_chain"
    assert spec.job.master == "local"


@pytest.mark.parametrize(
    ("path", "value", "field", "allowed"),
    [
        ("stream.name", "bad name!", "stream.name", "1-128 characters"),
        ("stream.name", "x" * 129, "stream.name", "1-128 characters"),
        ("stream.shards", 0, "stream.shards", "greater than or equal to 1"),
        ("stream.shards", -3, "stream.shards", "greater than or equal to 1"),
        ("stream.shards", "two", "stream.shards", "valid integer"),
        ("stream.region", "mars-1", "stream.region", "us-east-1"),
        ("stream.retention_hours", 12, "stream.retention_hours", "greater than or equal to 24"),
        ("stream.capacity_mode", "CHEAP", "stream.capacity_mode", "PROVISIONED"),
        ("stream.endpoint_url", "localhost:4567", "stream.endpoint_url", "embedded"),
        ("app_table.application_name", "ab", "app_table.application_name", "3-255"),
        ("app_table.application_name", "a/b/c", "app_table.application_name", "3-255"),
        ("app_table.endpoint_url", "http://127.0.0.1:8000", "app_table.endpoint_url", "https"),
        ("job.batch_interval_seconds", 0, "job.batch_interval_seconds", "greater than 0"),
        ("job.batch_interval_seconds", -1, "job.batch_interval_seconds", "greater than 0"),
        ("job.kcl_checkpoint_interval_seconds", 0, "job.kcl_checkpoint_interval_seconds", "0"),
        ("job.master", "local[4]", "job.master", "executor_cores"),
        ("job.master", "yarn", "job.master", "spark://host:port"),
        ("job.initial_position", "EARLIEST", "job.initial_position", "TRIM_HORIZON"),
        ("job.initial_position", "AT_TIMESTAMP", "job", "LATEST or TRIM_HORIZON"),
        ("job.storage_level", "RAM", "job.storage_level", "MEMORY_AND_DISK_2"),
        ("job.max_receivers", 0, "job.max_receivers", "greater than or equal to 1"),
        ("job.executor_cores", 1, "job.executor_cores", "greater than or equal to 2"),
        ("job.processing_cores", 4, "job", "must exceed processing_cores"),
        ("job.processor", "not an import path", "job.processor", "module:function"),
        ("job.spark_version", "4.2.0", "job.spark_version", "3.3.0"),
        ("job.spark_conf", {"executor.memory": "1g"}, "job.spark_conf", "start with 'spark.'"),
        ("job.spark_conf", {"spark.hadoop.fs.s3a.secret.key": "x"}, "job.spark_conf", "secret"),
        ("job.sink", {"kind": "s3", "path": "x"}, "job.sink.kind", "'directory'"),
        ("name", "Orders Pipeline", "name", "a-z"),
        ("credentials.source", "assume_role", "credentials", "needs role_arn"),
        ("credentials.role_arn", "arn:aws:iam::1:role/x", "credentials.role_arn", "123456789012"),
    ],
)
def test_rule_errors_name_field_and_what_is_allowed(
    path: str, value: object, field: str, allowed: str
) -> None:
    message = error_for(spec_with(path, value))
    assert "pipeline.yaml" in message
    assert f": {field}:" in message
    assert allowed in message


def test_unknown_key_lists_allowed_keys_and_line() -> None:
    text = yaml.safe_dump(VALID, sort_keys=False) + "shardz: 3\n"
    with pytest.raises(SpecError) as caught:
        parse_spec(text, source="p.yaml")
    message = str(caught.value)
    line = len(text.splitlines())
    assert f"p.yaml:{line}: shardz: unknown key; allowed here:" in message
    assert "stream" in message


def test_nested_error_points_at_line() -> None:
    text = (
        "name: orders\n"
        "stream:\n"
        "  name: orders-stream\n"
        "  shards: 0\n"
        "app_table: {application_name: orders-app}\n"
        "job: {checkpoint_dir: /cp, sink: {path: /out}}\n"
    )
    with pytest.raises(SpecError, match=r"p.yaml:4: stream.shards"):
        parse_spec(text, source="p.yaml")


def test_missing_field() -> None:
    data = spec_with("job.sink", {"path": "/out"})
    del data["job"]["checkpoint_dir"]
    assert "job.checkpoint_dir: required field is missing" in error_for(data)


def test_malformed_yaml_names_line() -> None:
    with pytest.raises(SpecError, match=r"bad.yaml:[23]: not valid YAML"):
        parse_spec("name: x\nstream: [unclosed\n", source="bad.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="a spec is a YAML mapping"):
        parse_spec("- a\n- b\n", source="list.yaml")


def test_literal_secrets_are_refused() -> None:
    data = spec_with("credentials.aws_secret_access_key", "hunter2")
    message = error_for(data)
    assert "never holds secrets" in message
    assert "hunter2" not in message


def test_missing_file() -> None:
    with pytest.raises(SpecError, match="cannot read the spec file"):
        load_spec("/nonexistent/pipeline.yaml")
