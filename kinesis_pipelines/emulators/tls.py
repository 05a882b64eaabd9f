"""A local certificate authority for the embedded AWS, and the Java truststore that trusts it.

Spark 3.3's KCL 1 reaches DynamoDB and CloudWatch through an AWS SDK v1 region override, which
always speaks HTTPS. The emulators speak plain HTTP, so a TLS front (tls_proxy.py) serves them
with a certificate for 127.0.0.1 that this module makes; boto3 trusts it through `verify=` and the
JVM through a copy of the JDK's own truststore with the certificate added.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
from pathlib import Path

from kinesis_pipelines.errors import EmulatorError
from kinesis_pipelines.extras import require_extra
from kinesis_pipelines.tools import require

TRUSTSTORE_PASSWORD = "changeit"  # the JDK's well-known default: a truststore holds no secret


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert.pem, key.pem).
    cryptography is the [local] extra's: imported here, so importing this module needs only the
    core (the submit step reads TRUSTSTORE_PASSWORD)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    require_extra("local", "the embedded local AWS's certificate", "cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kinesis-pipelines local AWS")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def make_java_truststore(cert_path: Path, truststore: Path) -> Path:
    """The JDK's default CA certificates plus `cert_path`, so real AWS stays reachable too."""
    if truststore.exists():
        return truststore
    keytool = require("keytool", "let the Spark JVM trust the embedded AWS certificate")
    java_home = Path(keytool).resolve().parent.parent
    cacerts = java_home / "lib" / "security" / "cacerts"
    partial = truststore.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    if cacerts.exists():
        shutil.copyfile(cacerts, partial)
    result = subprocess.run(
        [
            keytool,
            "-importcert",
            "-noprompt",
            "-alias",
            "kinesis-pipelines-local-aws",
            "-file",
            str(cert_path),
            "-keystore",
            str(partial),
            "-storepass",
            TRUSTSTORE_PASSWORD,
            "-storetype",
            "PKCS12",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise EmulatorError(f"keytool could not build {truststore}: {result.stderr.strip()}")
    partial.rename(truststore)
    return truststore
