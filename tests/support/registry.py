"""A real OCI registry (Debian's `docker-registry`, Docker Distribution) on 127.0.0.1.

The `registry` fixture starts one process per test session with a temp storage dir and
stops it by PID at the end; it skips only when the binary is absent
(`apt-get install -y docker-registry`, which .ci/run does).

    def test_pull(registry: Registry) -> None:
        helm_python.push(archive, f"oci://{registry.host}/charts", plain_http=True)
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.missing import missing_component

__all__ = ["Registry", "registry", "running_registry", "start_registry"]

BINARY = "docker-registry"


@dataclass
class Registry:
    host: str  # 127.0.0.1:<port>
    process: subprocess.Popen[bytes]
    root: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_registry(root: Path, binary: str, *, tls: tuple[Path, Path, Path] | None = None) -> Registry:
    """`tls`: (CA certificate, server certificate, server key) to serve HTTPS."""
    port = _free_port()
    config = root / "config.yml"
    tls_lines = f"  tls:\n    certificate: {tls[1]}\n    key: {tls[2]}\n" if tls else ""
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{tls_lines}"
    )
    context = ssl.create_default_context(cafile=str(tls[0])) if tls else None
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    reg = Registry(f"127.0.0.1:{port}", process, root)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(root / 'registry.log').read_text()[-2000:]}")
        try:
            scheme = "https" if tls else "http"
            with urllib.request.urlopen(f"{scheme}://{reg.host}/v2/", timeout=1, context=context) as response:
                if response.status == 200:
                    return reg
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    reg.stop()
    raise RuntimeError("docker-registry did not answer /v2/ within 20s")


@contextlib.contextmanager
def running_registry(prefix: str = "fluxform-registry-") -> Iterator[Registry]:
    """A registry in a fresh temp dir, stopped and removed on exit; skips the test when the
    binary is absent."""
    binary = shutil.which(BINARY)
    if binary is None:
        missing_component(f"{BINARY} not installed (apt-get install -y docker-registry)")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    reg = start_registry(root, binary)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    with running_registry() as reg:
        yield reg
