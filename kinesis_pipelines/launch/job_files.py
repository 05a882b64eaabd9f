"""The job's file system from the orchestrator's side: where it reads what a driver on the
cluster wrote (its info file, the delivery ledger's totals, the sink) and writes the stop marker.

Plain paths and file:// URIs are folders of this host; hdfs:// goes through WebHDFS, the
NameNode's REST API (fsspec's client), so the Dagster host needs no Hadoop installation."""

from __future__ import annotations

from typing import Any

from kinesis_pipelines.app.storage import JobFiles, LocalFiles
from kinesis_pipelines.errors import LaunchError
from kinesis_pipelines.launch.hadoop import HadoopConf


class WebHdfsFiles:
    """`JobFiles` over WebHDFS; paths are hdfs:// URIs."""

    def __init__(self, host: str, port: int, user: str | None = None) -> None:
        from fsspec.implementations.webhdfs import WebHDFS  # type: ignore[import-untyped]

        self.fs: Any = WebHDFS(host, port=port, user=user)

    @staticmethod
    def _path(uri: str) -> str:
        if not uri.startswith("hdfs://"):
            return uri
        rest = uri.split("://", 1)[1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"

    def read_text(self, path: str) -> str | None:
        try:
            return bytes(self.fs.cat_file(self._path(path))).decode()
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str) -> None:
        self.fs.pipe_file(self._path(path), text.encode())

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(self._path(path)))

    def names(self, directory: str) -> list[str]:
        try:
            entries = self.fs.ls(self._path(directory), detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries)

    def remove(self, path: str) -> None:
        if self.fs.exists(self._path(path)):
            self.fs.rm(self._path(path), recursive=True)

    def rename(self, source: str, target: str) -> None:
        self.fs.mv(self._path(source), self._path(target))

    def make_dirs(self, path: str) -> None:
        self.fs.makedirs(self._path(path), exist_ok=True)


def job_files(path: str, hadoop: HadoopConf | None, user: str | None = None) -> JobFiles:
    """The files API the orchestrator uses for `path`."""
    if "://" not in path or path.startswith("file://"):
        return LocalFiles()
    if path.startswith("hdfs://"):
        if hadoop is None:
            raise LaunchError(f"reading {path} needs the cluster's Hadoop configuration (HADOOP_CONF_DIR)")
        host, port = hadoop.webhdfs_address()
        return WebHdfsFiles(host, port, user)
    raise LaunchError(
        f"the orchestrator reads {path.split('://', 1)[0]}:// paths only through Spark; keep the "
        "control directory on the cluster's default file system (HDFS)"
    )
