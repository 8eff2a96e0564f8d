"""A registry behind a private CA (the air-gapped classic): refused with one line naming the
reference and how to fix it, accepted with --ca-file; docker config credentials are read."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fluxform.sources.oci.dockerconfig import registry_credentials
from tests.support.cli import run
from tests.support.missing import missing_component
from tests.support.registry import BINARY, Registry, start_registry
from tests.support.trees import write_tree

SOURCE = ("--source", "https://git.example.com/fleet.git", "--revision", "main@sha1:" + "c" * 40, "--reproducible")


def _certificates(root: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it, written as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fluxform test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(1).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = (root / "ca.pem", root / "server.pem", root / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(scope="module")
def tls_registry() -> Iterator[tuple[Registry, Path]]:
    binary = shutil.which(BINARY)
    if binary is None:
        missing_component(f"{BINARY} not installed (apt-get install -y docker-registry)")
    root = Path(tempfile.mkdtemp(prefix="fluxform-registry-tls-"))
    certs = _certificates(root)
    reg = start_registry(root, binary, tls=certs)
    try:
        yield reg, certs[0]
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_private_ca_needs_ca_file(tls_registry: tuple[Registry, Path], tmp_path: Path) -> None:
    registry, ca = tls_registry
    fleet = write_tree(tmp_path / "fleet", {"apps/app.yaml": "kind: ConfigMap\n"})
    url = f"oci://{registry.host}/tls/fleet:v1"
    refused = run("artifact", "push", fleet, url, *SOURCE)
    assert refused.code == 1
    [line] = refused.err.strip().splitlines()
    assert line.startswith(f"Error: {url}: TLS handshake with registry {registry.host} failed")
    assert "certificate verify failed" in line and "--ca-file" in line
    pushed = run("artifact", "push", fleet, url, *SOURCE, "--ca-file", ca)
    assert pushed.code == 0, pushed.err
    pulled = run("artifact", "pull", url, tmp_path / "out", "--ca-file", ca)
    assert pulled.code == 0 and pulled.out == pushed.out
    assert (tmp_path / "out" / "apps" / "app.yaml").read_text() == "kind: ConfigMap\n"


def test_docker_config_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    auth = base64.b64encode(b"flux:s3cret").decode()
    config.write_text(json.dumps({"auths": {"reg.example:5000": {"auth": auth},
                                            "https://index.docker.io/v1/": {"username": "hub", "password": "pw"},
                                            "token.example": {"identitytoken": "refresh"}}}))  # fmt: skip
    monkeypatch.setenv("DOCKER_CONFIG", str(config.parent))
    found = registry_credentials("reg.example:5000")
    assert found is not None and (found.username, found.password) == ("flux", "s3cret")
    hub = registry_credentials("docker.io")
    assert hub is not None and (hub.username, hub.password) == ("hub", "pw")
    token = registry_credentials("token.example")
    assert token is not None and token.identity_token == "refresh"
    assert registry_credentials("other.example") is None
    config.write_text("{not json")
    result = run("artifact", "inspect", "oci://reg.example:5000/x:v1")
    assert result.code == 1 and result.err.startswith(
        f"Error: oci://reg.example:5000/x:v1: cannot read docker config {config}"
    )


class _Denying(http.server.BaseHTTPRequestHandler):
    """A registry that challenges for basic auth, then forbids this user (401, then 403)."""

    def do_GET(self) -> None:
        code = 403 if self.headers.get("Authorization") else 401
        body = b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}'
        self.send_response(code)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_401_and_403_name_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Denying)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    host = f"127.0.0.1:{httpd.server_address[1]}"
    try:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        anonymous = run("artifact", "inspect", f"oci://{host}/team/fleet:v1", "--plain-http")
        assert anonymous.code == 1
        assert anonymous.err.startswith(f"Error: oci://{host}/team/fleet:v1: registry {host} requires credentials")
        (tmp_path / "config.json").write_text(
            json.dumps({"auths": {host: {"auth": base64.b64encode(b"u:p").decode()}}})
        )
        forbidden = run("artifact", "inspect", f"oci://{host}/team/fleet:v1", "--plain-http")
        [line] = forbidden.err.strip().splitlines()
        assert line.startswith(f"Error: oci://{host}/team/fleet:v1: registry {host} denied access (HTTP 403)")
        assert "requested access to the resource is denied" in line
    finally:
        httpd.shutdown()
        httpd.server_close()
