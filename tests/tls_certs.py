"""Throw-away certificates for the TLS tests: a private CA and a server certificate it signed.

The server certificate names 127.0.0.1 and localhost (the test servers listen on the loopback),
so a client that verifies the chain and the host name accepts it only when it trusts this CA —
exactly what `tls_ca_file` is for. EC P-256 keys: generating one takes a millisecond, where an
RSA key would cost a noticeable part of a fast test run.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA: its certificate file (what a client trusts) and the key that signs server certificates."""

    name: str
    cert_file: Path
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class ServerCertificate:
    """PEM files of a server certificate and its key, and the CA that signed it."""

    cert_file: Path
    key_file: Path
    ca: CertificateAuthority

    def server_context(self) -> ssl.SSLContext:
        """An ssl.SSLContext for a Python server (aiosmtpd) presenting this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _write_pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o644)
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "inbox-bot tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def make_ca(directory: str | Path, name: str = "inbox-bot test CA") -> CertificateAuthority:
    """A self-signed CA valid for a day; its certificate is written to DIRECTORY/<slug>-ca.pem."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    subject = _name(name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())
    cert_file = _write_pem(directory / f"{slug}-ca.pem", certificate.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(name=name, cert_file=cert_file, certificate=certificate, key=key)


def make_server_certificate(
    ca: CertificateAuthority, directory: str | Path, names: tuple[str, ...] = LOOPBACK_NAMES
) -> ServerCertificate:
    """A server certificate for `names` (IP addresses and DNS names) signed by `ca`, as PEM files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    alternative: list[x509.GeneralName] = []
    for name in names:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative.append(x509.DNSName(name))
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_file = _write_pem(directory / "server.pem", certificate.public_bytes(serialization.Encoding.PEM))
    key_file = _write_pem(
        directory / "server.key",
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    return ServerCertificate(cert_file=cert_file, key_file=key_file, ca=ca)


__all__ = ["CertificateAuthority", "LOOPBACK_NAMES", "ServerCertificate", "make_ca", "make_server_certificate"]
