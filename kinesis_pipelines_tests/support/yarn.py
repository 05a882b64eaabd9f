"""A real YARN and HDFS for the tests: Hadoop's own MiniYARNCluster and MiniDFSCluster in one JVM
(minicluster/, built with Maven once and cached by content), bound to 127.0.0.1, with its client
configuration written into a folder used as HADOOP_CONF_DIR."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from kinesis_pipelines.home import cache_home
from kinesis_pipelines.processes import stop_group
from kinesis_pipelines.tools import require

RECIPE = Path(__file__).with_name("minicluster")
MAIN_CLASS = "io.kinesispipelines.testing.MiniCluster"
# Hadoop 3.3 on Java 17 reflects into these
ADD_OPENS = ["java.base/java.lang", "java.base/java.util", "java.base/java.nio", "java.base/sun.nio.ch"]


def build_minicluster() -> str:
    """The java classpath of the minicluster program, built once per recipe content."""
    files = sorted(path for path in RECIPE.rglob("*") if path.is_file() and "target" not in path.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(RECIPE)).encode() + b"\0" + path.read_bytes())
    home = cache_home() / "minicluster" / digest.hexdigest()[:16]
    classpath_file = home / "classpath.txt"
    if not classpath_file.exists():
        work = home / "build"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(RECIPE, work, ignore=shutil.ignore_patterns("target"))
        mvn = require("mvn", "build the test minicluster")
        subprocess.run(
            [mvn, "-B", "-q", "--no-transfer-progress", "package", "dependency:build-classpath",
             "-Dmdep.outputFile=classpath.txt", "-DskipTests"],
            cwd=work, check=True,
        )  # fmt: skip
        jar = next((work / "target").glob("*.jar"))
        classpath_file.write_text(f"{jar}:{(work / 'classpath.txt').read_text().strip()}")
    return classpath_file.read_text()


class YarnCluster:
    """Start with `start()`, stop with `stop()` (also after a failed start)."""

    def __init__(self, work: Path, memory_mb: int = 6144, vcores: int = 4) -> None:
        self.work, self.memory_mb, self.vcores = work, memory_mb, vcores
        self.conf_dir = work / "hadoop-conf"
        self.log = work / "minicluster.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.default_fs = ""
        self.rm_web = ""

    def start(self, timeout: float = 240.0) -> YarnCluster:
        classpath = build_minicluster()
        java = require("java", "run the test minicluster")
        opens = [f"--add-opens={module}=ALL-UNNAMED" for module in ADD_OPENS]
        self.work.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [java, "-Xmx1g", *opens, "-cp", classpath, MAIN_CLASS, str(self.conf_dir),
                 str(self.work / "data"), str(self.memory_mb), str(self.vcores)],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.work,  # MiniYARNCluster keeps its node's files under ./target
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [
                line
                for line in self.log.read_text(errors="replace").splitlines()
                if line.startswith("READY ")
            ]
            if ready:
                _, self.default_fs, self.rm_web = ready[-1].split()
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
        self.stop()
        raise RuntimeError(f"the YARN/HDFS minicluster did not come up; its log ends:\n{tail}")

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        stdin: IO[bytes] | None = process.stdin
        if stdin is not None:
            stdin.close()  # the program's signal to stop its clusters and exit
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        stop_group(process.pid, grace_seconds=5)
        self.process = None


def container_pids(container_id: str) -> list[int]:
    """The processes of one YARN container on this host (its launch script, JVM, Python), found
    by the CONTAINER_ID the NodeManager puts in their environment."""
    return [pid for pid in _pids() if _environ(pid).get("CONTAINER_ID") == container_id]


def application_pids(application_id: str) -> list[int]:
    """Every container process of one application on this host."""
    suffix = application_id.removeprefix("application_")
    return [pid for pid in _pids() if suffix in _environ(pid).get("CONTAINER_ID", "")]


def kill_container(container_id: str) -> int:
    """SIGKILL every process of a container, as a node failure or an OOM kill would."""
    pids = container_pids(container_id)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}
