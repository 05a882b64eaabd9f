"""Reading a cluster's Hadoop client configuration, and the errors when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinesis_pipelines.errors import SpecError
from kinesis_pipelines.launch.hadoop import hadoop_conf_dir, load_hadoop_conf
from kinesis_pipelines.spec import PipelineSpec
from kinesis_pipelines.spec.runtime import runtime_with
from kinesis_pipelines_tests.e2e.helpers import make_spec

SITE = "<configuration>{}</configuration>"


def prop(name: str, value: str) -> str:
    return f"<property><name>{name}</name><value>{value}</value></property>"


def yarn_spec(**job: object) -> PipelineSpec:
    return make_spec(
        "y", shards=1, master="yarn", checkpoint_dir="hdfs://nn/c", sink={"path": "hdfs://nn/o"}, **job
    )


def test_addresses_come_from_the_site_files_with_variables_expanded(tmp_path: Path) -> None:
    (tmp_path / "core-site.xml").write_text(SITE.format(prop("fs.defaultFS", "hdfs://nn.example:8020/")))
    (tmp_path / "yarn-site.xml").write_text(
        SITE.format(
            prop("yarn.resourcemanager.hostname", "rm.example")
            + prop("yarn.resourcemanager.webapp.address", "${yarn.resourcemanager.hostname}:8088")
        )
    )
    conf = load_hadoop_conf(tmp_path)
    assert conf.resource_manager_url == "http://rm.example:8088"
    assert conf.default_fs == "hdfs://nn.example:8020"
    assert conf.webhdfs_address() == ("nn.example", 9870)  # Hadoop 3's default NameNode HTTP port


def test_yarn_without_hadoop_configuration_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    with pytest.raises(SpecError, match=r"set job\.hadoop_conf_dir or HADOOP_CONF_DIR"):
        hadoop_conf_dir(yarn_spec())


def test_a_folder_without_yarn_site_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path))
    with pytest.raises(SpecError, match=r"HADOOP_CONF_DIR is .* which has no yarn-site.xml"):
        hadoop_conf_dir(yarn_spec())
    with pytest.raises(SpecError, match=r"job\.hadoop_conf_dir is"):
        hadoop_conf_dir(yarn_spec(hadoop_conf_dir=str(tmp_path / "nope")))


def test_an_unreachable_resource_manager_fails_before_any_submit(tmp_path: Path) -> None:
    from kinesis_pipelines.errors import LaunchError
    from kinesis_pipelines.launch.submit import build_submit_request
    from kinesis_pipelines.launch.yarn import SUBMIT_LOG, YarnLauncher
    from kinesis_pipelines.operations.deploy import receiver_plan
    from kinesis_pipelines.processes import free_port
    from kinesis_pipelines.spec.runtime import spark_of
    from kinesis_pipelines_tests.launch.test_submit import REAL

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "yarn-site.xml").write_text(
        SITE.format(prop("yarn.resourcemanager.webapp.address", f"127.0.0.1:{free_port()}"))
    )
    spec = yarn_spec(hadoop_conf_dir=str(conf))
    launcher = YarnLauncher(spec)
    with pytest.raises(LaunchError, match=r"ResourceManager at http://127\.0\.0\.1:\d+ is unreachable"):
        launcher.check_ready()
    request = build_submit_request(
        spec,
        receiver_plan(spec, 1),
        REAL,
        "/a.jar",
        0,
        "hdfs://nn/c",
        tmp_path,
        runtime=runtime_with(spec, spark_of(spec)),
    )
    with pytest.raises(LaunchError, match=r"yarn\.resourcemanager\.webapp\.address"):
        launcher.submit(request)
    assert not (tmp_path / request.generation / SUBMIT_LOG).exists()  # spark-submit never ran
