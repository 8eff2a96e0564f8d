"""Test charts built from code, and a real HTTP chart repository on 127.0.0.1.

chart_dir = write_chart(tmp / "src", "app", "1.2.0", templates={"cm.yaml": CM})
with ChartRepoServer(tmp / "repo") as server:
    publish(chart_dir, server)          # helm package + helm repo index (the Helm SDK)
    publish_versions(server, tmp / "src", "hello", ["1.0.0", "2.0.0"], templates={"cm.yaml": CM})
    server.url                          # http://127.0.0.1:<port>
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import helm_python

from fluxform import yamlio
from fluxform.helm.sdk import use_private_helm_home

__all__ = ["GREETING_TEMPLATE", "ChartRepoServer", "publish", "publish_versions", "write_chart"]

#: A chart template: a ConfigMap `<release>-settings` whose greeting comes from the values.
GREETING_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
"""


def write_chart(
    parent: Path,
    name: str,
    version: str,
    *,
    templates: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    crds: Mapping[str, str] | None = None,
    schema: Mapping[str, Any] | None = None,
    dependencies: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """A chart directory `<parent>/<name>`; returns its path."""
    root = parent / name
    (root / "templates").mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"apiVersion": "v2", "name": name, "version": version, **(extra or {})}
    if dependencies:
        meta["dependencies"] = dependencies
    (root / "Chart.yaml").write_text(yamlio.dump(meta))
    (root / "values.yaml").write_text(yamlio.dump(dict(values or {})))
    for file, text in (templates or {}).items():
        (root / "templates" / file).write_text(text)
    if crds:
        (root / "crds").mkdir(exist_ok=True)
        for file, text in crds.items():
            (root / "crds" / file).write_text(text)
    if schema is not None:
        (root / "values.schema.json").write_text(json.dumps(schema))
    return root


class _Server(http.server.ThreadingHTTPServer):
    """What the server saw and what it should answer differently, for the tests to read and set."""

    requests: list[str]  # paths served
    authorizations: list[str | None]  # the Authorization header of every request
    redirects: dict[str, str]  # path -> Location of a 302


class _Handler(http.server.SimpleHTTPRequestHandler):
    auth: str | None = None
    server: _Server

    def do_GET(self) -> None:
        self.server.authorizations.append(self.headers.get("Authorization"))
        if self.auth is not None and self.headers.get("Authorization") != self.auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.end_headers()
            return
        self.server.requests.append(self.path)
        target = self.server.redirects.get(self.path)
        if target:
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read results, not access logs."""


class ChartRepoServer:
    """`python -m http.server` in a thread, serving `root`, optionally behind basic auth."""

    def __init__(self, root: Path, *, username: str | None = None, password: str | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        auth = None
        if username is not None:
            auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        handler = type("Handler", (_Handler,), {"auth": auth})
        self._server = _Server(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        self._server.requests = []
        self._server.authorizations = []
        self._server.redirects = {}
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def requests(self) -> list[str]:
        """Paths served so far (to prove an offline run made none)."""
        return self._server.requests

    @property
    def authorizations(self) -> list[str | None]:
        """The Authorization header of every request (None when absent)."""
        return self._server.authorizations

    def redirect(self, path: str, target: str) -> None:
        """Answer GET `path` with a 302 to `target`."""
        self._server.redirects[path] = target

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ChartRepoServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def publish(chart_dir: Path, server: ChartRepoServer, *, relative_urls: bool = False) -> Path:
    """Package the chart into the served dir and regenerate index.yaml; returns the .tgz."""
    use_private_helm_home()
    archive = Path(helm_python.package(chart_dir, destination=server.root))
    helm_python.repo_index_generate(server.root, base_url=None if relative_urls else server.url)
    return archive


def publish_versions(
    server: ChartRepoServer, parent: Path, name: str, versions: list[str], *, templates: Mapping[str, str]
) -> None:
    """Chart `name` in each of `versions`, written under `parent` and published to `server`."""
    for version in versions:
        publish(write_chart(parent / version, name, version, templates=templates), server)
