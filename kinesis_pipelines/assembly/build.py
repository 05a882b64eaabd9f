"""Build the kinesis-asl assembly jar with Maven, cached by the content of what goes into it.

Spark does not publish `spark-streaming-kinesis-asl-assembly` (SPARK-17418), so the package
renders a small POM (pom.xml.template) per Spark release: the connector and its dependency tree,
minus what Spark provides, with the libraries that clash with Spark's relocated (per connector
profile: KCL 1's Guava and protobuf, KCL 2's protobuf), plus the package's own JVM helper for that
profile (`java/kcl1` or `java/kcl2`, `KeyedKinesisStreams`: input DStreams that carry each
record's identity to Python). The cache key is the SHA-256 of that rendered POM and the helper's sources, so
a second build with the same versions and sources is a lookup.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from kinesis_pipelines import versions
from kinesis_pipelines.errors import AssemblyError, SpecError
from kinesis_pipelines.home import cache_home
from kinesis_pipelines.progress import run_with_progress
from kinesis_pipelines.tools import require
from kinesis_pipelines.versions import ConnectorProfile, SparkLine

# What each connector profile relocates. KCL 1: its Guava and protobuf, newer than Spark 3.x's.
# KCL 2 (Spark 4.2+): the protobuf-java 4 it brings, which Spark's jars/ lack, so other jars'
# protobuf cannot clash; Guava is Spark's own (33.x).
PROTOBUF_RELOCATION = {"com.google.protobuf": "kinesis.protobuf.shaded.com.google.protobuf"}
RELOCATIONS = {
    ConnectorProfile.KCL1: {
        **PROTOBUF_RELOCATION,
        "com.google.common": "kinesis.guava.shaded.com.google.common",
        "com.google.thirdparty": "kinesis.guava.shaded.com.google.thirdparty",
    },
    ConnectorProfile.KCL2: PROTOBUF_RELOCATION,
}

TEMPLATE = Path(__file__).with_name("pom.xml.template")
JAVA_SOURCES = Path(__file__).with_name("java")
Progress = Callable[[str], None]


class AssemblyJar(BaseModel):
    """A built assembly and what it holds."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    size_bytes: int
    spark_version: str
    scala_binary_version: str
    connector: str
    profile: str = "kcl1"
    kcl_version: str
    aws_sdk_version: str
    cache_key: str
    cache_hit: bool = False
    build_seconds: float = 0.0


def render_pom(spark_version: str) -> str:
    """The POM for one Spark release; pure, so its hash is the cache key. The line picks the Scala
    binary version, the bytecode level and what is bundled and relocated (its connector profile)."""
    try:
        line = versions.spark_line(spark_version)
    except SpecError as exc:
        raise AssemblyError(f"no assembly recipe for Spark {spark_version}: {exc}") from exc
    replacements = {
        "@SPARK_VERSION@": spark_version,
        "@SCALA_BINARY_VERSION@": line.scala,
        "@JAVA_RELEASE@": str(line.java_release),
        "@BUNDLED_DEPENDENCIES@": _bundled_dependencies(line),
        "@RELOCATIONS@": _relocations(line),
    }
    text = TEMPLATE.read_text()
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return text


def _bundled_dependencies(line: SparkLine) -> str:
    """KCL 1 needs newer Guava and protobuf than the ones Spark ships: bundle the KCL's own
    versions, relocated (below), so neither side sees the other's."""
    if line.guava is None or line.protobuf is None:
        return ""
    return f"""    <!-- KCL 1's own Guava and protobuf, relocated below: Spark ships older copies. -->
    <dependency>
      <groupId>com.google.guava</groupId>
      <artifactId>guava</artifactId>
      <version>{line.guava}</version>
    </dependency>
    <dependency>
      <groupId>com.google.protobuf</groupId>
      <artifactId>protobuf-java</artifactId>
      <version>{line.protobuf}</version>
    </dependency>
"""


def _relocations(line: SparkLine) -> str:
    body = "".join(
        f"""                <relocation>
                  <pattern>{pattern}</pattern>
                  <shadedPattern>{shaded}</shadedPattern>
                </relocation>
"""
        for pattern, shaded in RELOCATIONS[line.profile].items()
    )
    return f"              <relocations>\n{body}              </relocations>\n"


def java_sources(spark_version: str) -> dict[str, bytes]:
    """The helper's sources for the Spark line's connector profile, by path under src/main/java:
    the profile's own, and those every profile shares (`common`, written against Spark's classes
    alone)."""
    roots = [JAVA_SOURCES / "common", JAVA_SOURCES / versions.spark_line(spark_version).profile.value]
    return {
        str(path.relative_to(root)): path.read_bytes()
        for root in roots
        for path in sorted(root.rglob("*.java"))
    }


def cache_key(pom: str, sources: dict[str, bytes]) -> str:
    digest = hashlib.sha256(pom.encode())
    for name, content in sorted(sources.items()):
        digest.update(b"\0" + name.encode() + b"\0" + content)
    return digest.hexdigest()[:16]


def jar_name(spark_version: str) -> str:
    scala = versions.spark_line(spark_version).scala
    return f"spark-streaming-kinesis-asl-assembly_{scala}-{spark_version}.jar"


def cached_jar_path(spark_version: str) -> Path:
    """Where the assembly for `spark_version` is (or will be) cached."""
    key = cache_key(render_pom(spark_version), java_sources(spark_version))
    return cache_home() / "assembly" / key / jar_name(spark_version)


def build_assembly(
    spark_version: str = versions.TESTED_SPARK_VERSION,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> AssemblyJar:
    """The assembly jar for `spark_version`, from the cache or built with Maven."""
    say = progress or (lambda _message: None)
    pom = render_pom(spark_version)
    line = versions.spark_line(spark_version)
    sources = java_sources(spark_version)
    key = cache_key(pom, sources)
    target_dir = (cache_dir or cache_home() / "assembly") / key
    target_dir.mkdir(parents=True, exist_ok=True)
    metadata_path = target_dir / "assembly.json"
    with open(target_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if metadata_path.exists():
            cached = AssemblyJar.model_validate_json(metadata_path.read_text())
            if Path(cached.path).exists() and _sha256(Path(cached.path)) == cached.sha256:
                say(f"assembly jar cached: {cached.path}")
                return cached.model_copy(update={"cache_hit": True, "build_seconds": 0.0})
        mvn = require("mvn", "build the kinesis-asl assembly jar")
        require("java", "build the kinesis-asl assembly jar")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="kp-assembly-") as work:
            (Path(work) / "pom.xml").write_text(pom)
            for name, content in sources.items():
                source = Path(work) / "src" / "main" / "java" / name
                source.parent.mkdir(parents=True, exist_ok=True)
                source.write_bytes(content)
            say(f"building the kinesis-asl assembly for Spark {spark_version} with Maven...")
            _run_maven(mvn, Path(work), say)
            built = Path(work) / "target" / jar_name(spark_version)
            if not built.exists():
                raise AssemblyError(f"Maven finished but produced no {built.name}")
            _check_contents(built, line)
            final = target_dir / built.name
            shutil.copyfile(built, final)
        jar = AssemblyJar(
            path=str(final),
            sha256=_sha256(final),
            size_bytes=final.stat().st_size,
            spark_version=spark_version,
            scala_binary_version=line.scala,
            connector=versions.connector_coordinates(spark_version),
            profile=line.profile.value,
            kcl_version=line.kcl,
            aws_sdk_version=line.aws_sdk,
            cache_key=key,
            build_seconds=round(time.monotonic() - started, 2),
        )
        metadata_path.write_text(jar.model_dump_json(indent=2))
        say(f"assembly jar built in {jar.build_seconds:.0f} s: {final} ({jar.size_bytes} bytes)")
        return jar


def jar_has_class(jar: Path, class_name: str) -> bool:
    with zipfile.ZipFile(jar) as archive:
        return class_name.replace(".", "/") + ".class" in archive.namelist()


def _check_contents(jar: Path, line: SparkLine) -> None:
    if not jar_has_class(jar, versions.PYTHON_HELPER_CLASS):
        raise AssemblyError(
            f"{jar.name} lacks {versions.PYTHON_HELPER_CLASS}, which pyspark.streaming.kinesis "
            "calls; the connector dependency did not resolve"
        )
    if not jar_has_class(jar, versions.KEYED_STREAMS_CLASS):
        raise AssemblyError(
            f"{jar.name} lacks {versions.KEYED_STREAMS_CLASS}: the helper's sources did not compile"
        )


def _run_maven(mvn: str, work: Path, say: Progress) -> None:
    """`mvn package`, saying every few seconds how many artifacts it has downloaded and bundled."""
    argv = [mvn, "-B", "package", "-DskipTests"]
    code, lines = run_with_progress(argv, say, "  Maven", MavenProgress(), cwd=work)
    if code != 0:
        errors = [line for line in lines if "[ERROR]" in line][:15] or lines[-15:]
        raise AssemblyError(
            "the Maven build of the kinesis-asl assembly failed (is Maven Central reachable? "
            "Maven settings in ~/.m2/settings.xml apply):\n" + "\n".join(errors)
        )


class MavenProgress:
    """Where a Maven build is, from its output: artifacts downloaded (and their size), then
    artifacts bundled into the shaded jar."""

    SIZE = re.compile(r"\((\d+(?:\.\d+)?) (B|kB|MB|GB)")
    UNITS = {"B": 1, "kB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}

    def __init__(self) -> None:
        self.downloaded, self.bytes, self.bundled = 0, 0.0, 0
        self.phase = "resolving dependencies"

    def __call__(self, line: str) -> str | None:
        if line.startswith("Downloaded from "):
            self.downloaded += 1
            size = self.SIZE.search(line)
            if size:
                self.bytes += float(size.group(1)) * self.UNITS[size.group(2)]
        elif "Including " in line and "in the shaded jar" in line:
            self.bundled += 1
        elif "--- maven-compiler-plugin" in line or "--- compiler:" in line:
            self.phase = "compiling the JVM helper"
        elif "--- maven-shade-plugin" in line or "--- shade:" in line:
            self.phase = "shading"
        else:
            return None
        parts = [self.phase]
        if self.downloaded:
            parts.append(f"{self.downloaded} artifacts downloaded ({self.bytes / 1e6:.1f} MB)")
        if self.bundled:
            parts.append(f"{self.bundled} bundled")
        return ", ".join(parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
