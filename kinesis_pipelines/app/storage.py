"""The driver's files on the job's file system: the delivery ledger, the info file and stop
marker of its control directory, the checkpoint it may set aside, the sink's batches.

A plain path is a folder on the host that runs the driver. An hdfs://, s3a:// or file:// URI goes
through Hadoop's FileSystem API in the driver's JVM, the one Spark writes its checkpoints and the
receivers' write-ahead log with, so a driver in YARN's ApplicationMaster reaches the same files
as every later attempt, and the orchestrator reads them from anywhere."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Protocol

from kinesis_pipelines.files import write_text_atomically


class JobFiles(Protocol):
    def read_text(self, path: str) -> str | None:
        """The file's text; None when there is no such file."""
        ...

    def write_text(self, path: str, text: str) -> None:
        """Replace the file's content; a reader sees the old text, the new, or (on Hadoop file
        systems, for a moment) no file, never half of one."""
        ...

    def exists(self, path: str) -> bool: ...

    def names(self, directory: str) -> list[str]:
        """The names in a directory ([] when it does not exist)."""
        ...

    def remove(self, path: str) -> None:
        """Delete a file or a whole directory; nothing when it is not there."""
        ...

    def rename(self, source: str, target: str) -> None: ...

    def make_dirs(self, path: str) -> None: ...


def is_uri(path: str) -> bool:
    return "://" in path


class LocalFiles:
    """A folder on the driver's host, named by a plain path or a file:// URI."""

    def read_text(self, path: str) -> str | None:
        try:
            return _local(path).read_text()
        except FileNotFoundError:
            return None

    def write_text(self, path: str, text: str) -> None:
        write_text_atomically(_local(path), text)

    def exists(self, path: str) -> bool:
        return _local(path).exists()

    def names(self, directory: str) -> list[str]:
        folder = _local(directory)
        return sorted(child.name for child in folder.iterdir()) if folder.is_dir() else []

    def remove(self, path: str) -> None:
        target = _local(path)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def rename(self, source: str, target: str) -> None:
        os.rename(_local(source), _local(target))

    def make_dirs(self, path: str) -> None:
        _local(path).mkdir(parents=True, exist_ok=True)


def _local(path: str) -> Path:
    return Path(path.removeprefix("file://"))


class HadoopFiles:
    """Hadoop's FileSystem API through the driver's JVM (py4j)."""

    def __init__(self, jvm: Any, hadoop_conf: Any) -> None:
        self.jvm, self.conf = jvm, hadoop_conf

    def _resolve(self, path: str) -> tuple[Any, Any]:
        hadoop_path = self.jvm.org.apache.hadoop.fs.Path(path)
        return hadoop_path.getFileSystem(self.conf), hadoop_path

    def read_text(self, path: str) -> str | None:
        fs, hadoop_path = self._resolve(path)
        if not fs.exists(hadoop_path):
            return None
        stream = fs.open(hadoop_path)
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode()
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        fs, hadoop_path = self._resolve(path)
        partial = self.jvm.org.apache.hadoop.fs.Path(
            hadoop_path.getParent(), f".{hadoop_path.getName()}.{uuid.uuid4().hex}.partial"
        )
        stream = fs.create(partial, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()
        # Hadoop's public rename never replaces a file: take the old one away first
        fs.delete(hadoop_path, False)
        if not fs.rename(partial, hadoop_path):
            raise OSError(f"could not rename {partial} to {path}")

    def exists(self, path: str) -> bool:
        fs, hadoop_path = self._resolve(path)
        return bool(fs.exists(hadoop_path))

    def names(self, directory: str) -> list[str]:
        fs, hadoop_path = self._resolve(directory)
        if not fs.exists(hadoop_path):
            return []
        return sorted(status.getPath().getName() for status in fs.listStatus(hadoop_path))

    def remove(self, path: str) -> None:
        fs, hadoop_path = self._resolve(path)
        fs.delete(hadoop_path, True)

    def rename(self, source: str, target: str) -> None:
        fs, source_path = self._resolve(source)
        if not fs.rename(source_path, self.jvm.org.apache.hadoop.fs.Path(target)):
            raise OSError(f"could not rename {source} to {target}")

    def make_dirs(self, path: str) -> None:
        fs, hadoop_path = self._resolve(path)
        fs.mkdirs(hadoop_path)


def files_for(path: str) -> JobFiles:
    """The files API for `path`: local for a plain path, Hadoop's for a URI. Usable before the
    SparkContext exists (a StreamingContext recovered from a checkpoint makes its own)."""
    return _hadoop_files() if is_uri(path) else LocalFiles()


@functools.lru_cache(maxsize=1)
def _hadoop_files() -> HadoopFiles:
    from pyspark import SparkContext

    SparkContext._ensure_initialized()
    jvm: Any = SparkContext._jvm
    conf = jvm.org.apache.spark.deploy.SparkHadoopUtil.get().newConfiguration(
        jvm.org.apache.spark.SparkConf()
    )
    return HadoopFiles(jvm, conf)


def join(base: str, *names: str) -> str:
    return "/".join([base.rstrip("/"), *names])
