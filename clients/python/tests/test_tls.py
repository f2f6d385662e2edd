"""TLS and mutual TLS against a real server: a CA, a server certificate and a client certificate
made here with `cryptography`; the client connects with the CA file and a token, then with its
certificate and no token (the server maps the certificate's subject to the admin role)."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rekey_client import Client, ConfigError, UnauthenticatedError, UnavailableError, proto
from rekey_client.testing import RekeyServer

from .conftest import KEY


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> tuple[Path, Path]:
    key_path, cert_path = path.with_suffix(".key"), path.with_suffix(".pem")
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _issue(
    subject: str, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("rekey test CA"))
        .issuer_name(_name("rekey test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, _ = _write(d / "ca", ca_key, ca)
    server_pem, server_key = _write(d / "server", *_issue("127.0.0.1", ca_key, ca.subject, server=True))
    client_pem, client_key = _write(d / "client", *_issue("py-admin", ca_key, ca.subject, server=False))
    return {"ca": ca_pem, "server_cert": server_pem, "server_key": server_key, "client_cert": client_pem,
            "client_key": client_key}  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(pki: dict[str, Path]) -> Iterator[RekeyServer]:
    config = f"""
[tls]
cert_file = "{pki["server_cert"]}"
key_file = "{pki["server_key"]}"
client_ca_file = "{pki["ca"]}"

[[tls.clients]]
subject = "CN=py-admin"
role = "admin"
"""
    with RekeyServer.start(config_toml=config) as server:
        yield server


def test_tls_with_the_ca_and_a_token(tls_server: RekeyServer, pki: dict[str, Path]) -> None:
    with Client(f"https://{tls_server.grpc}", ca_file=pki["ca"], token=tls_server.admin_token) as c:
        sealed = c.encrypt(proto.EncryptRequest(key_name=KEY, plaintext=b"over tls"))
        assert c.decrypt(proto.DecryptRequest(ciphertext=sealed.ciphertext)).plaintext == b"over tls"
    # Without a token and without a certificate, the server still asks who is calling.
    with Client(f"https://{tls_server.grpc}", ca_file=pki["ca"]) as c, pytest.raises(UnauthenticatedError):
        c.get_status(proto.GetStatusRequest())


def test_mutual_tls_from_the_environment_needs_no_token(tls_server: RekeyServer, pki: dict[str, Path]) -> None:
    env = {
        "REKEY_ADDR": f"https://{tls_server.grpc}",
        "REKEY_CA_FILE": str(pki["ca"]),
        "REKEY_CLIENT_CERT_FILE": str(pki["client_cert"]),
        "REKEY_CLIENT_KEY_FILE": str(pki["client_key"]),
    }
    with Client.from_env(env) as c:
        status = c.get_status(proto.GetStatusRequest())
        assert KEY in [k.key_name for k in status.keys]
        assert c.list_tokens(proto.ListTokensRequest()) is not None  # an admin rpc: the certificate's role


def test_a_plain_text_client_cannot_talk_to_a_tls_server(tls_server: RekeyServer) -> None:
    with (
        Client(tls_server.grpc_url, token=tls_server.admin_token, retry_policy=None) as c,
        pytest.raises(UnavailableError),
    ):
        c.get_status(proto.GetStatusRequest())
    with pytest.raises(ConfigError):
        Client.from_env({"REKEY_ADDR": f"https://{tls_server.grpc}"})
