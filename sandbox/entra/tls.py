"""A throw-away certificate authority and a loopback server certificate, made with `cryptography`.

MSAL refuses `http://` authorities, so the fake Entra speaks HTTPS. Clients trust it the standard way:
`REQUESTS_CA_BUNDLE=<ca file>`, which is what `requests`, and so MSAL, reads. `SSL_CERT_FILE` alone is not enough
for MSAL: `requests` ignores it and keeps to certifi's roots. It is read by Python's `ssl` and httpx.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA certificate (give this to clients) and the server's certificate and key were written."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for serving with the server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts only this CA (for aiohttp/httpx clients in tests)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Referral Radar sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def generate_tls(
    ca_cert_path: str | Path,
    directory: str | Path | None = None,
    *,
    hostnames: tuple[str, ...] = ("localhost",),
    ip_addresses: tuple[str, ...] = ("127.0.0.1",),
    include_public_roots: bool = False,
) -> TlsFiles:
    """Make a CA and a server certificate for `hostnames` and `ip_addresses`; write them out.

    The CA certificate goes to `ca_cert_path`; the server certificate and key go to `directory` (default: the
    CA file's folder). With `include_public_roots`, the CA file also holds certifi's public roots, so that a
    process whose `REQUESTS_CA_BUNDLE` points at it can still reach real HTTPS hosts.
    """
    ca_path = Path(ca_cert_path)
    folder = Path(directory) if directory is not None else ca_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    ca_path.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Referral Radar sandbox CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostnames[0] if hostnames else ip_addresses[0]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    bundle = _pem(ca_cert)
    if include_public_roots:
        import certifi

        bundle += b"\n" + Path(certifi.where()).read_bytes()
    ca_path.write_bytes(bundle)
    files = TlsFiles(ca_cert=ca_path, server_cert=folder / "entra-server.pem", server_key=folder / "entra-server.key")
    files.server_cert.write_bytes(_pem(server_cert) + _pem(ca_cert))
    files.server_key.touch(mode=0o600)
    files.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files
