"""helm-controller's post-renderers inside a real Helm install/upgrade, through Helm 4's
post-renderer plugins (a `postrenderer/v1` plugin with the `subprocess` runtime).

Helm renders the chart itself (with the cluster's capabilities and live `lookup`, as in
helm-controller), streams every document to the plugin annotated with its template file
(`postrenderer.helm.sh/postrender-filename`), and stores whatever comes back as the
release manifest. So `helm get manifest`, `helm history` and helm-controller see a normal
release of the real chart, its values and the post-rendered manifest, as helm-controller
itself would have written it.

The plugin is a relay, not the renderer: a few lines of stdlib Python that pass Helm's
stream over a socket inherited from the worker and print the answer. The worker runs
fluxform's own post-renderer chain (helm/postrender.py: kustomize patches and images,
commonMetadata, origin labels) on it. Rendered documents may hold Secret values, so they
travel only through pipes and the socket, never through files or argv; the socket's file
descriptor number is the plugin's only argument.

    install_plugin(plugins_dir)
    with PostRenderServer(render) as server:
        options = {"post_renderer": PLUGIN_NAME, "post_renderer_args": [str(server.child_fd)]}
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from fluxform.errors import FluxformError

__all__ = ["PLUGIN_NAME", "PostRenderServer", "install_plugin"]

PLUGIN_NAME = "fluxform-postrender"
_HEADER = struct.Struct("!BQ")  # status (0 ok, 1 error), payload length

#: The plugin's program: send stdin over the inherited socket (fd in argv[1]), print the
#: answer (status 0) or fail with its message on stderr. No `$` anywhere: Helm expands
#: environment variables in plugin arguments.
_RELAY = """\
import os, socket, struct, sys
sock = socket.socket(fileno=int(sys.argv[1]))
data = sys.stdin.buffer.read()
sock.sendall(struct.pack("!BQ", 0, len(data)) + data)
head = b""
while len(head) < 9:
    chunk = sock.recv(9 - len(head))
    if not chunk:
        sys.exit("fluxform post-renderer: the worker went away")
    head += chunk
status, size = struct.unpack("!BQ", head)
body = bytearray()
while len(body) < size:
    chunk = sock.recv(min(1 << 20, size - len(body)))
    if not chunk:
        sys.exit("fluxform post-renderer: the worker went away")
    body += chunk
if status:
    sys.stderr.write(body.decode("utf-8", "replace"))
    sys.exit(1)
sys.stdout.buffer.write(bytes(body))
"""


def install_plugin(plugins_dir: Path, python: str) -> Path:
    """Write the relay plugin into Helm's plugin dir (HELM_PLUGINS); returns its dir.
    `python`: the interpreter's real path (a worker's sys.executable is its argv[0])."""
    root = plugins_dir / PLUGIN_NAME
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    (root / "relay.py").write_text(_RELAY)
    # isolated (-I) and without site (-S): the relay needs the stdlib only, and starts in ~20 ms
    (root / "plugin.yaml").write_text(
        "apiVersion: v1\n"
        f"name: {PLUGIN_NAME}\n"
        "type: postrenderer/v1\n"
        "runtime: subprocess\n"
        "version: 0.1.0\n"
        "runtimeConfig:\n"
        "  platformCommand:\n"
        f'    - command: "{python}"\n'
        '      args: ["-I", "-S", "${HELM_PLUGIN_DIR}/relay.py"]\n'
    )
    return root


class PostRenderServer:
    """Serves post-render requests on one end of a socket pair; the other end is inheritable
    so Helm's plugin process gets it. `render` maps Helm's stream to the post-rendered one;
    an exception becomes the plugin's error (Helm fails the action with it)."""

    def __init__(self, render: Callable[[str], str]) -> None:
        self._render = render
        self._server, self._child = socket.socketpair()
        self._child.set_inheritable(True)
        self._thread = threading.Thread(target=self._serve, name="fluxform-post-render", daemon=True)
        self.failures: list[str] = []

    @property
    def child_fd(self) -> int:
        return self._child.fileno()

    def __enter__(self) -> PostRenderServer:
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._server.close()
        self._child.close()

    def _serve(self) -> None:
        while True:
            request = self._receive()
            if request is None:
                return
            try:
                answer, status = self._render(request.decode("utf-8")).encode("utf-8"), 0
            except FluxformError as exc:
                message = exc.one_line()
                self.failures.append(message)
                answer, status = message.encode("utf-8"), 1
            except Exception as exc:  # any other failure is the post-renderer's error for Helm too
                message = f"post-renderer failed: {type(exc).__name__}"
                self.failures.append(message)
                answer, status = message.encode("utf-8"), 1
            try:
                self._server.sendall(_HEADER.pack(status, len(answer)) + answer)
            except OSError:
                return

    def _receive(self) -> bytes | None:
        head = self._exactly(_HEADER.size)
        if head is None:
            return None
        _, size = _HEADER.unpack(head)
        return self._exactly(size)

    def _exactly(self, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            try:
                chunk = self._server.recv(min(1 << 20, size - len(data)))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return bytes(data)
