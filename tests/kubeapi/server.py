"""HTTP plumbing: a threading HTTP/1.1 server on 127.0.0.1 in front of an Emulator.

Keep-alive is supported (Content-Length on every answer, chunked encoding for watches);
stopping the server closes open client connections so no handler thread lingers.

    server = KubeApiServer(Emulator()).start()
    server.url          # http://127.0.0.1:<port>
    server.stop()
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .controls import RequestRecord
from .emulator import Emulator
from .messages import ApiRequest, ApiResponse

__all__ = ["KubeApiServer"]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timed out, dropped) is no server error; anything else is."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are written separately: without TCP_NODELAY, Nagle + delayed ACK add
    # ~45 ms to every request
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        parsed = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = ApiRequest(self.command, parsed.path, query, headers, self._read_body())
        record = RequestRecord(self.command, parsed.path, dict(query), request.content_type, request.user_agent)
        emulator = self.server.emulator
        emulator.controls.log(record)
        response = emulator.respond(request, record)
        if response.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if response.stream is not None:
            self._write_stream(response)
        else:
            self._write(response)

    def _write(self, response: ApiResponse) -> None:
        body = response.body
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _write_stream(self, response: ApiResponse) -> None:
        assert response.stream is not None
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            for chunk in response.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class KubeApiServer:
    """An Emulator served over HTTP on `host:port` (port 0: a free port)."""

    def __init__(self, emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator or Emulator()
        self._httpd = _HTTPServer((host, port), self.emulator)
        address = self._httpd.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self.emulator.server_address = f"{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> KubeApiServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=f"kubeapi-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end watches, close client connections; safe to call twice."""
        self.emulator.stopping.set()
        if self._thread is not None:
            stopper = threading.Thread(target=self._httpd.shutdown, daemon=True)
            stopper.start()
            with contextlib.suppress(OSError):  # wake the accept loop instead of waiting for its poll
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            stopper.join()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
