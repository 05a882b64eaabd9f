"""A Hadoop cluster's client configuration, as the orchestrator reads it: where the
ResourceManager's REST API and the NameNode's WebHDFS answer, and the cluster's default file
system. Read from the folder named by the spec's `job.hadoop_conf_dir` or by HADOOP_CONF_DIR,
the one spark-submit reads too."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from kinesis_pipelines.errors import LaunchError, SpecError
from kinesis_pipelines.spec import PipelineSpec

SITE_FILES = ("core-site.xml", "hdfs-site.xml", "yarn-site.xml")
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def hadoop_conf_dir(spec: PipelineSpec) -> Path:
    """The folder holding the cluster's yarn-site.xml; SpecError saying what to set if none."""
    configured = spec.job.hadoop_conf_dir or os.environ.get("HADOOP_CONF_DIR")
    if not configured:
        raise SpecError(
            f"{spec.name}: job.master 'yarn' needs the cluster's Hadoop configuration: set "
            "job.hadoop_conf_dir or HADOOP_CONF_DIR to the folder holding its core-site.xml and "
            "yarn-site.xml (on EMR, /etc/hadoop/conf of the primary node)"
        )
    folder = Path(configured).expanduser()
    source = "job.hadoop_conf_dir" if spec.job.hadoop_conf_dir else "HADOOP_CONF_DIR"
    if not (folder / "yarn-site.xml").is_file():
        raise SpecError(
            f"{spec.name}: {source} is {str(folder)!r}, which has no yarn-site.xml; point it at "
            "the folder holding the cluster's core-site.xml and yarn-site.xml"
        )
    return folder


@dataclass(frozen=True)
class HadoopConf:
    directory: Path
    values: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        value = self.values.get(name, default)
        for _ in range(10):  # Hadoop's ${name} references, as Configuration expands them
            expanded = _VARIABLE.sub(lambda m: self.values.get(m.group(1), m.group(0)), value)
            if expanded == value:
                break
            value = expanded
        return value

    @property
    def default_fs(self) -> str:
        return self.get("fs.defaultFS", "file:///").rstrip("/")

    @property
    def resource_manager_url(self) -> str:
        address = self.get("yarn.resourcemanager.webapp.address")
        if not address:
            address = f"{self.get('yarn.resourcemanager.hostname', '0.0.0.0')}:8088"
        return f"http://{address}"

    def webhdfs_address(self) -> tuple[str, int]:
        """The NameNode's HTTP address (WebHDFS) for the default file system."""
        address = self.get("dfs.namenode.http-address")
        if not address:
            host = self.default_fs.split("://", 1)[-1].split(":", 1)[0].split("/", 1)[0]
            address = f"{host}:9870"
        host, _, port = address.rpartition(":")
        if host in ("0.0.0.0", ""):
            host = self.default_fs.split("://", 1)[-1].split(":", 1)[0].split("/", 1)[0]
        return host, int(port)


def load_hadoop_conf(directory: Path) -> HadoopConf:
    values: dict[str, str] = {}
    for name in SITE_FILES:
        path = directory / name
        if not path.is_file():
            continue
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError as exc:
            raise LaunchError(f"{path}: not a Hadoop configuration file: {exc}") from exc
        for prop in root.iter("property"):
            key, value = prop.findtext("name"), prop.findtext("value")
            if key:
                values[key.strip()] = (value or "").strip()
    return HadoopConf(directory, values)
