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
    cached_jar_path,
    jar_has_class,
    java_sources,
    render_pom,
)
from kinesis_pipelines.errors import AssemblyError, ToolMissingError
from kinesis_pipelines_tests.support.golden import assert_golden

GOLDEN = Path(__file__).with_name("golden")


@pytest.mark.parametrize("spark_version", ["3.3.0", "3.5.4", "4.0.1", "4.2.0"])
def test_pom_per_spark_line_matches_its_golden_file(spark_version: str) -> None:
    """Both connector profiles: Scala 2.12 and Java 8 bytecode for 3.x, 2.13 and 17 for 4.x; KCL 1's
    Guava and protobuf bundled and relocated; KCL 2's protobuf relocated, Spark's Guava used."""
    pom = render_pom(spark_version)
    assert re.search(r"@[A-Z_]+@", pom) is None  # every placeholder filled
    assert_golden(pom, GOLDEN / f"pom-{spark_version}.xml")


def test_profiles_differ_where_their_libraries_do() -> None:
    kcl1, kcl2 = render_pom("4.1.0"), render_pom("4.2.0")
    assert "<scala.binary.version>2.13</scala.binary.version>" in kcl1 and "2.13" in kcl2
    assert "kinesis.guava.shaded" in kcl1 and "kinesis.guava.shaded" not in kcl2
    assert "<artifactId>guava</artifactId>" not in kcl2  # Spark 4.x's own Guava 33
    assert "kinesis.protobuf.shaded" in kcl2
    assert "<release>8</release>" in render_pom("3.5.4") and "<release>17</release>" in kcl2
    kcl1_sources, kcl2_sources = java_sources("4.1.0"), java_sources("4.2.0")
    assert kcl1_sources.keys() == kcl2_sources.keys()  # one Python-facing helper per profile
    keyed = "io/kinesispipelines/spark/KeyedKinesisStreams.java"
    assert b"KinesisClientRecord" in kcl2_sources[keyed] and b"KinesisClientRecord" not in kcl1_sources[keyed]
    assert b"software.amazon.awssdk" in kcl2_sources["io/kinesispipelines/spark/AssumedRoleCredentials.java"]


def test_cache_key_follows_content() -> None:
    pom, sources = render_pom("3.3.0"), java_sources("3.3.0")
    assert cache_key(pom, sources) == cache_key(render_pom("3.3.0"), java_sources("3.3.0"))
    assert cache_key(pom, sources) != cache_key(pom.replace("26.0-jre", "27.0-jre"), sources)
    assert cache_key(pom, sources) != cache_key(pom, {**sources, "X.java": b"class X {}"})
    assert cached_jar_path("3.5.4").name == "spark-streaming-kinesis-asl-assembly_2.12-3.5.4.jar"
    assert cached_jar_path("4.2.0").name == "spark-streaming-kinesis-asl-assembly_2.13-4.2.0.jar"


def test_unknown_spark_version_is_refused() -> None:
    with pytest.raises(AssemblyError, match=r"supported lines: 3\.3, 3\.4, 3\.5, 4\.0, 4\.1, 4\.2"):
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
    assert assembly_jar.kcl_version == versions.spark_line(assembly_jar.spark_version).kcl == "1.12.0"
    assert assembly_jar.profile == "kcl1"


def test_second_build_hits_the_cache(assembly_jar: AssemblyJar) -> None:
    again = build_assembly()
    assert again.cache_hit
    assert again.sha256 == assembly_jar.sha256
    assert again.path == assembly_jar.path
