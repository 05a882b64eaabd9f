"""Without the [local] extra the embedded AWS refuses to start, saying what to install, before it
starts or writes anything; the rest of the package does not need the extra to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kinesis_pipelines.emulators.local_aws import LocalAws
from kinesis_pipelines.emulators.tls import make_certificate
from kinesis_pipelines.errors import ExtraMissingError


@pytest.mark.parametrize("package", ["moto", "flask", "cryptography"])
def test_the_embedded_aws_without_the_local_extra(
    package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # what importlib sees when it is not installed
    with pytest.raises(ExtraMissingError, match=rf"needs {package}, from the \[local\] extra"):
        LocalAws(tmp_path).start()
    assert list(tmp_path.iterdir()) == []


def test_the_certificate_without_cryptography(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(ExtraMissingError, match=r"pip install 'kinesis-pipelines\[local\]'"):
        make_certificate(tmp_path / "tls")
    assert not (tmp_path / "tls" / "key.pem").exists()


def test_submitting_imports_none_of_the_local_extra() -> None:
    """launch.submit reads the truststore's password from emulators.tls: importing them and the
    CLI, the Dagster definitions' modules and the operations brings in no package of [local]."""
    probe = (
        "import sys; import kinesis_pipelines.launch.submit, kinesis_pipelines.emulators.local_aws, "
        "kinesis_pipelines.cli, kinesis_pipelines.operations, kinesis_pipelines.orchestration; "
        "extras = ('moto', 'flask', 'werkzeug', 'cryptography', 'parliament'); "
        "print(sorted(m for m in extras if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
