"""The OCI client's auth and integrity rules, against a registry-shaped HTTP server on 127.0.0.1
(docker-registry without auth is covered in test_charts.py)."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import sha256_digest
from fluxform.sources.oci import registry as registry_module
from fluxform.sources.oci.registry import Credentials, OciClient, parse_oci_url
from tests.support.registry import Registry

MANIFEST = json.dumps({"schemaVersion": 2, "layers": []}).encode()
BLOB = b"layer bytes"
BASIC = "Basic " + base64.b64encode(b"flux:pw").decode()


class _Registry(http.server.BaseHTTPRequestHandler):
    mode = "bearer"  # "bearer" | "basic"

    def do_GET(self) -> None:
        assert isinstance(self.server, http.server.HTTPServer)
        host = f"127.0.0.1:{self.server.server_port}"
        if self.path.startswith("/token"):
            ok = self.headers.get("Authorization") == BASIC and "scope=repository" in self.path
            return self._send(200 if ok else 401, json.dumps({"token": "good"}).encode() if ok else b"{}")
        expected = "Bearer good" if self.mode == "bearer" else BASIC
        if self.headers.get("Authorization") != expected:
            challenge = (
                f'Bearer realm="http://{host}/token",service="reg",scope="repository:charts/app:pull"'
                if self.mode == "bearer"
                else 'Basic realm="reg"'
            )
            return self._send(401, b"{}", {"WWW-Authenticate": challenge})
        if self.path.startswith("/v2/charts/app/tags/list?n=1000"):
            return self._send(
                200,
                json.dumps({"tags": ["1.0.0"]}).encode(),
                {"Link": '</v2/charts/app/tags/list?last=1.0.0&n=1000>; rel="next"'},
            )
        if self.path.startswith("/v2/charts/app/tags/list?last="):
            return self._send(200, json.dumps({"tags": ["2.0.0"]}).encode())
        if self.path.startswith("/v2/charts/app/manifests/"):
            return self._send(200, MANIFEST)
        if self.path == f"/v2/charts/app/blobs/{sha256_digest(BLOB)}":
            return self._send(200, BLOB)
        if self.path.startswith("/v2/charts/app/blobs/"):
            return self._send(200, b"tampered")
        return self._send(404, b"{}")

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(params=["bearer", "basic"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """Address of a registry demanding a bearer token (from basic credentials) or basic auth."""
    handler = type("Handler", (_Registry,), {"mode": request.param})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_authenticated_pull(server: str) -> None:
    client = OciClient(server, plain_http=True, credentials=Credentials("flux", "pw"))
    assert client.tags("charts/app") == ["1.0.0", "2.0.0"]  # follows Link pagination
    digest, raw = client.manifest("charts/app", "1.0.0")
    assert (digest, raw) == (sha256_digest(MANIFEST), MANIFEST)
    assert client.blob("charts/app", sha256_digest(BLOB)) == BLOB


def test_wrong_or_missing_credentials(server: str, request: pytest.FixtureRequest) -> None:
    bearer = "bearer" in request.node.callspec.id
    with pytest.raises(SourceError, match="refused a token" if bearer else "requires credentials"):
        OciClient(server, plain_http=True).tags("charts/app")
    with pytest.raises(SourceError, match="refused a token" if bearer else "denied access"):
        OciClient(server, plain_http=True, credentials=Credentials("flux", "nope")).tags("charts/app")


def test_integrity_checks(server: str) -> None:
    client = OciClient(server, plain_http=True, credentials=Credentials("flux", "pw"))
    with pytest.raises(SourceError, match="does not match its digest"):
        client.blob("charts/app", "sha256:" + "1" * 64)
    with pytest.raises(SourceError, match="has digest"):
        client.manifest("charts/app", "sha256:" + "2" * 64)


def test_unreachable_registry_fails_fast() -> None:
    with pytest.raises(SourceError, match=r"cannot reach registry 127\.0\.0\.1:9"):
        OciClient("127.0.0.1:9", plain_http=True, timeout=2).tags("x")


@pytest.mark.parametrize(
    ("url", "host", "repository"),
    [("oci://ghcr.io/org/charts", "ghcr.io", "org/charts"), ("oci://127.0.0.1:5000/a/", "127.0.0.1:5000", "a")],
)
def test_parse_oci_url(url: str, host: str, repository: str) -> None:
    ref = parse_oci_url(url)
    assert (ref.host, ref.repository) == (host, repository)


@pytest.mark.parametrize("url", ["https://ghcr.io/x", "oci://ghcr.io", "oci:///x"])
def test_parse_oci_url_rejects(url: str) -> None:
    with pytest.raises(SourceError):
        parse_oci_url(url)


def test_chunked_upload_mount_and_manifest_put(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the real docker-registry: PATCH chunks, a cross-repository mount, a manifest put."""
    monkeypatch.setattr(registry_module, "CHUNK", 1000)
    client = OciClient(registry.host, plain_http=True)
    data = bytes(range(256)) * 14  # 3584 bytes: four PATCHes
    digest = client.put_blob("chunks/a", data)
    assert digest == sha256_digest(data) and client.blob("chunks/a", digest, len(data)) == data
    assert client.put_blob("chunks/b", data, mount_from="chunks/a") == digest
    assert client.has_blob("chunks/b", digest)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/json", "size": len(data), "digest": digest},
                           "layers": []}).encode()  # fmt: skip
    assert client.put_manifest("chunks/b", "v1", manifest) == sha256_digest(manifest)
    assert client.resolve("chunks/b", "v1") == sha256_digest(manifest)
    assert client.resolve("chunks/b", "nope") is None and client.tags("chunks/none") == []
    with pytest.raises(SourceError, match="has 3584 bytes, the manifest says 10"):
        client.blob("chunks/a", digest, 10)
