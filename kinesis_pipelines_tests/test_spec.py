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
        ("job.batch_interval_seconds", 0, "job.batch_interval_seconds", "greater than 0"),
        ("job.batch_interval_seconds", -1, "job.batch_interval_seconds", "greater than 0"),
        ("job.kcl_checkpoint_interval_seconds", 0, "job.kcl_checkpoint_interval_seconds", "0"),
        ("job.master", "local[4]", "job.master", "executor_cores"),
        ("job.master", "mesos://m:5050", "job.master", "spark://host:port"),
        ("job.master", "yarn", "job", "is a path on this host, but master 'yarn'"),
        ("job.checkpoint_dir", "gs://bucket/x", "job.checkpoint_dir", "hdfs://, s3a://, file://"),
        ("job.checkpoint_dir", "file://relative/x", "job.checkpoint_dir", "absolute path"),
        ("job.sink.path", "ftp://host/x", "job.sink.path", "hdfs://, s3a://, file://"),
        ("job.hadoop_conf_dir", "/etc/hadoop/conf", "job", "only used with master 'yarn'"),
        ("job.driver_host", "10.0.0.7", "job", "only used with spark:// masters"),
        ("job.initial_position", "EARLIEST", "job.initial_position", "TRIM_HORIZON"),
        ("job.initial_position", "AT_TIMESTAMP", "job", "needs initial_timestamp"),
        ("job.dedupe_window_seconds", -1, "job.dedupe_window_seconds", "greater than or equal to 0"),
        ("job.storage_level", "RAM", "job.storage_level", "MEMORY_AND_DISK_2"),
        ("job.max_receivers", 0, "job.max_receivers", "greater than or equal to 1"),
        ("job.executor_cores", 1, "job.executor_cores", "greater than or equal to 2"),
        ("job.processing_cores", 4, "job", "must exceed processing_cores"),
        ("job.processor", "not an import path", "job.processor", "module:function"),
        ("job.spark_version", "5.0.0", "job.spark_version", "supported lines: 3.3, 3.4, 3.5, 4.0, 4.1, 4.2"),
        ("job.spark_version", "3.5", "job.spark_version", "major.minor.patch"),
        ("job.python_version", "3.10", "job", "only used with master 'yarn'"),
        ("job.python_version", "3", "job.python_version", "pattern"),
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


DEFS = """\
type: kinesis_pipelines.components.KinesisPipeline
attributes:
  name: orders
  stream:
    name: orders-stream
    region: eu-west-1
    shards: 2
  app_table:
    application_name: orders-app
  job:
    checkpoint_dir: /tmp/cp
    sink:
      path: /tmp/out
"""


def write(tmp_path: Path, content: str | bytes, name: str = "defs.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return str(caught.value)


def test_defs_fixture_is_valid(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, DEFS)).stream.shards == 2


def test_duplicate_top_level_key_names_file_key_and_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, DEFS + "  stream:\n    name: other-stream\n")
    message = load_error(path)
    assert message == (
        f"{path}:14: stream: duplicate key 'stream' (first at line 4); keep one "
        "(YAML would silently use the last)"
    )


def test_nested_duplicate_key_names_field_and_both_lines(tmp_path: Path) -> None:
    text = DEFS.replace("    shards: 2\n", "    shards: 2\n    shards: 3\n")
    message = load_error(write(tmp_path, text))
    assert "defs.yaml:8: stream.shards: duplicate key 'shards' (first at line 7)" in message
    assert "keep one" in message


@pytest.mark.parametrize(
    ("text", "field", "key", "first", "again"),
    [
        ("name: a\nname: b\n", "name", "name", 1, 2),
        ("job:\n  sink:\n    path: /a\n    kind: directory\n    path: /b\n", "job.sink.path", "path", 3, 5),
        ("stream: {name: a, shards: 1, name: b}\n", "stream.name", "name", 1, 1),
        ("owners:\n  - team\n  - {a: 1,\n     a: 2}\n", "owners.1.a", "a", 3, 4),
        (
            "job:\n  spark_conf:\n    spark.x: '1'\n    spark.x: '2'\n",
            "job.spark_conf.spark.x",
            "spark.x",
            3,
            4,
        ),
    ],
)
def test_duplicate_keys_at_any_depth(text: str, field: str, key: str, first: int, again: int) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, source="p.yaml")
    assert str(caught.value).startswith(
        f"p.yaml:{again}: {field}: duplicate key {key!r} (first at line {first})"
    )


def test_duplicate_attributes_key_is_named_itself() -> None:
    text = "type: kinesis_pipelines.components.KinesisPipeline\nattributes: {}\nattributes: {}\n"
    with pytest.raises(
        SpecError,
        match=r"^p.yaml:3: attributes: duplicate key 'attributes' "
        r"\(first at line 2\)",
    ):
        parse_spec(text, source="p.yaml")


def test_overriding_a_merged_key_is_not_a_duplicate(tmp_path: Path) -> None:
    text = DEFS.replace(
        "  stream:\n    name: orders-stream\n",
        "  stream:\n    <<: {name: base-stream, shards: 1}\n    name: orders-stream\n",
    )
    spec = load_spec(write(tmp_path, text))
    assert spec.stream.name == "orders-stream"
    assert spec.stream.shards == 2


def test_shared_anchor_is_not_a_duplicate(tmp_path: Path) -> None:
    text = DEFS.replace("    region: eu-west-1\n", "    region: &region eu-west-1\n")
    text += "  description: *region\n"
    assert load_spec(write(tmp_path, text)).description == "eu-west-1"


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError, match=r"^p.yaml:1: owners.0: .*recursive"):
        parse_spec("owners: &o [*o]\n", source="p.yaml")


def test_value_that_does_not_fit_its_tag_names_line() -> None:
    with pytest.raises(SpecError, match=r"^p.yaml:2: not valid YAML: cannot read 'abc' as"):
        parse_spec("name: x\ndescription: !!int abc\n", source="p.yaml")


def test_not_utf8_names_file_line_and_byte_offset(tmp_path: Path) -> None:
    text = DEFS.replace("  name: orders\n", "  name: orders\n  description: Bestellungen für Köln\n")
    raw = text.encode("latin-1")
    offset = raw.index("ü".encode("latin-1"))
    path = write(tmp_path, raw)
    message = load_error(path)
    assert message == (
        f"{path}:4: not UTF-8 text: byte 0xfc at byte offset {offset} is not valid UTF-8; "
        "a pipeline spec must be UTF-8 text, so save the file as UTF-8"
    )


def test_utf16_is_named(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, DEFS.encode("utf-16")))
    assert "defs.yaml:1: not UTF-8 text (it looks like UTF-16): byte 0x" in message
    assert "at byte offset 0" in message


def test_utf8_with_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, b"\xef\xbb\xbf" + DEFS.encode())).name == "orders"


def test_unprintable_character_names_line() -> None:
    with pytest.raises(SpecError, match=r"^p.yaml:2: not valid YAML: character #x0000 .*not allowed"):
        parse_spec("name: x\ndescription: a\x00b\n", source="p.yaml")


@pytest.mark.parametrize(
    "content", ["", "\n\n", "   \n\t\n", "# only a comment\n\n# another\n", "---\n", "--- # x\n"]
)
def test_empty_file_says_so(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, content)
    message = load_error(path)
    assert message.startswith(
        f"{path}: the file is empty; a pipeline spec needs "
        "type: kinesis_pipelines.components.KinesisPipeline and attributes:"
    )
    assert "dg scaffold defs" in message


def test_null_document_names_line() -> None:
    with pytest.raises(SpecError, match=r"^p.yaml:1: a spec is a YAML mapping"):
        parse_spec("null\n", source="p.yaml")


def test_missing_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "defs.yaml"
    assert load_error(path) == f"{path}: cannot read the spec file: no such file"


def test_missing_relative_file_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    message = load_error(Path("defs.yaml"))
    assert message == (
        f"defs.yaml: cannot read the spec file: no such file (looked for {tmp_path / 'defs.yaml'})"
    )


def test_directory_names_path_and_suggests_its_defs_yaml(tmp_path: Path) -> None:
    assert load_error(tmp_path) == (
        f"{tmp_path}: cannot read the spec file: it is a directory; pass the spec file itself"
    )
    write(tmp_path, DEFS)
    assert load_error(tmp_path) == (
        f"{tmp_path}: cannot read the spec file: it is a directory; pass the spec file itself; "
        f"did you mean {tmp_path / 'defs.yaml'}?"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            DEFS.replace("    shards: 2\n", "    shards: 2\n    shards: 3\n"),
            "defs.yaml:8: stream.shards: duplicate key 'shards' (first at line 7)",
        ),
        (
            DEFS.replace("orders-app", "caf\xe9-app").encode("latin-1"),
            "defs.yaml:9: not UTF-8 text: byte 0xe9 at byte offset",
        ),
        ("# nothing yet\n", "defs.yaml: the file is empty"),
        (None, "defs.yaml: cannot read the spec file: no such file"),
        ("dir", "cannot read the spec file: it is a directory"),
    ],
    ids=["duplicate-key", "not-utf8", "empty", "missing", "directory"],
)
def test_validate_command_reports_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None, expected: str
) -> None:
    from kinesis_pipelines.cli import main

    path = tmp_path / "defs.yaml"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        write(tmp_path, content)
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {path}")
    assert expected in lines[0]
    assert "Traceback" not in captured.err
