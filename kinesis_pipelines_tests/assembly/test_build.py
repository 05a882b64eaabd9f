from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from kinesis_pipelines import versions
from kinesis_pipelines.assembly.build import (
    AssemblyJar,
    build_assembly,
    cache_key,
    jar_has_class,
    render_pom,
)
from kinesis_pipelines.errors import AssemblyError, ToolMissingError


def test_pom_pins_every_version() -> None:
    pom = render_pom()
    assert re.search(r"@[A-Z_]+@", pom) is None  # every placeholder filled
    assert f"<spark.version>{versions.SPARK_VERSION}</spark.version>" in pom
    assert "spark-streaming-kinesis-asl_${scala.binary.version}" in pom
    assert "<scope>provided</scope>" in pom
    assert "kinesis.guava.shaded" in pom


def test_cache_key_follows_content() -> None:
    pom = render_pom()
    assert cache_key(pom) == cache_key(render_pom())
    assert cache_key(pom) != cache_key(pom.replace("26.0-jre", "27.0-jre"))


def test_unknown_spark_version_is_refused() -> None:
    with pytest.raises(AssemblyError, match=r"supported: 3\.3\.0"):
        render_pom("9.9.9")


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="mvn is needed to build the kinesis-asl"):
        build_assembly(cache_dir=tmp_path / "cache")


def test_jar_holds_the_python_helper_and_relocates_clashes(assembly_jar: AssemblyJar) -> None:
    jar = Path(assembly_jar.path)
    assert jar_has_class(jar, versions.PYTHON_HELPER_CLASS)
    assert jar_has_class(jar, "com.amazonaws.services.kinesis.clientlibrary.lib.worker.Worker")
    with zipfile.ZipFile(jar) as archive:
        names = archive.namelist()
    assert not any(n.startswith("com/google/common/") for n in names)  # Guava relocated
    assert not any(n.startswith("com/google/protobuf/") for n in names)  # protobuf relocated
    assert not any(n.startswith("scala/") for n in names)  # Spark provides Scala
    assert not any(n.startswith("org/apache/spark/streaming/StreamingContext") for n in names)
    assert assembly_jar.kcl_version == versions.KCL_VERSION


def test_second_build_hits_the_cache(assembly_jar: AssemblyJar) -> None:
    again = build_assembly()
    assert again.cache_hit
    assert again.sha256 == assembly_jar.sha256
    assert again.path == assembly_jar.path
