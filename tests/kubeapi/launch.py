"""One call to get a running emulator with a kubeconfig: used by the pytest fixture and
`python -m tests.kubeapi`.

    api = start_kubeapi(tmp_path / "kubeconfig")
    api.url, api.kubeconfig_path, api.server.forbid(...)
    api.stop()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .emulator import Emulator
from .kubeconfig import write_kubeconfig
from .server import KubeApiServer

__all__ = ["KubeApi", "start_kubeapi"]


@dataclass
class KubeApi:
    """A started emulator. `server` holds the test controls (Emulator); `http` the HTTP server."""

    url: str
    kubeconfig_path: Path | None
    server: Emulator
    http: KubeApiServer

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig file (the pytest fixtures always write one)."""
        assert self.kubeconfig_path is not None, "this emulator was started without a kubeconfig"
        return self.kubeconfig_path

    def stop(self) -> None:
        self.http.stop()


def start_kubeapi(
    kubeconfig_path: Path | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    watch_timeout: float = 10.0,
    token: str = "kubeapi-token",
    aggregated_discovery: bool = True,
) -> KubeApi:
    emulator = Emulator(token=token, watch_timeout=watch_timeout, aggregated_discovery=aggregated_discovery)
    http = KubeApiServer(emulator, host=host, port=port).start()
    if kubeconfig_path is not None:
        write_kubeconfig(kubeconfig_path, http.url, token)
    return KubeApi(http.url, kubeconfig_path, emulator, http)
