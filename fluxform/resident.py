"""A resident tool: one child process answering many requests, bounded like a one-shot tool.

Loading a library once and asking it many times is what makes the in-process kustomize
engine fast; running it in a child of its own is what keeps `run_tool`'s bounds: its own
process group, the heap limit (RLIMIT_DATA), a CPU-time budget, a deadline per request
past which the child is killed (a Go call cannot be interrupted, a process can), an output
cap, and the kill of every child when the run is cancelled. What the child prints on
stderr (kustomize's deprecation warnings) never reaches the user's terminal.

Framing: a request is one line; the answer is one JSON header line holding at least
`size`, then `size` bytes of body. The child's first answer (to no request) says it is ready.

    worker = ResidentTool.start([sys.executable, "-m", "fluxform.kustomize.worker"], tool="kustomize")
    header, body = worker.ask(b'{"dir": "/tmp/x"}', timeout=300)
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

from fluxform.errors import ToolError, ToolLimitExceeded
from fluxform.limits import current_limits, describe_bytes
from fluxform.tool import cpu_seconds, ran_out_of_memory, start_tool, stop_tool

__all__ = ["ResidentTool"]

_READ_CHUNK = 1 << 16
_STDERR_HEAD = 4096
_STDERR_TAIL = 16 * 1024
#: How long a child may take to say it is ready (loading a large shared library).
START_TIMEOUT = 60.0


class _Drain:
    """Reads a child's stderr until it closes, keeping only its head and tail (a resident
    child prints warnings for hours; its last words say why it died)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[bytes]) -> None:
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except OSError:
                return
            if not chunk:
                return
            if len(self.head) < _STDERR_HEAD:
                self.head += chunk[: _STDERR_HEAD - len(self.head)]
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - _STDERR_TAIL)]

    def finish(self) -> tuple[bytes, bytes]:
        self._thread.join(timeout=1.0)
        return bytes(self.head), bytes(self.tail)


class ResidentTool:
    """One child serving requests in turn; not thread-safe (a pool gives each thread its
    own). After a failure of the child itself (`ToolError`) it is dead: `alive` is False."""

    def __init__(self, proc: subprocess.Popen[bytes], tool: str, budget: float) -> None:
        self.proc = proc
        self.tool = tool
        self.budget = budget  # seconds of timeout it was started with (sets its CPU limit)
        self.limits = current_limits()  # the heap and output limits it was started under
        self.alive = True
        self.ready: dict[str, Any] = {}
        self._stopped = False
        self._buffer = bytearray()
        assert proc.stderr is not None
        self._stderr = _Drain(proc.stderr)

    @classmethod
    def start(cls, argv: Sequence[str], *, tool: str, timeout: float) -> ResidentTool:
        """Start the child and wait for its ready header (kept in `ready`)."""
        resident = cls(start_tool(argv, tool=tool, timeout=timeout), tool, timeout)
        try:
            resident.ready, _ = resident._answer(time.monotonic() + START_TIMEOUT, "start")
        except BaseException:
            resident.close(kill=True)
            raise
        return resident

    @property
    def usable(self) -> bool:
        """Alive, and still there (it may have been killed while it waited)."""
        return self.alive and self.proc.poll() is None

    @property
    def cpu_limit(self) -> int:
        """The child's CPU-time limit, over its whole life (see `worn_out`)."""
        return cpu_seconds(self.budget)

    def worn_out(self, cpu_used: float) -> bool:
        """Past half its CPU-time limit: retire it before one more request could hit it."""
        return cpu_used > self.cpu_limit / 2

    def ask(self, request: bytes, *, timeout: float) -> tuple[dict[str, Any], bytes]:
        """Send one request line, return the header and body of its answer. Past `timeout`
        seconds or the output cap the child is killed and ToolLimitExceeded raised; a child
        that dies raises ToolError with its last words (or the limit it ran into)."""
        if not self.alive:
            raise ToolError(self.tool, -1, "the resident process is gone")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(request.rstrip(b"\n") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        return self._answer(time.monotonic() + timeout, f"time limit of {timeout:g} s")

    def close(self, *, kill: bool = False) -> None:
        """End the child (asked to leave, or killed); safe to call twice."""
        self.alive = False
        if not self._stopped:
            self._stopped = True
            stop_tool(self.proc, kill=kill)

    # -- reading answers -----------------------------------------------------------------
    def _answer(self, deadline: float, too_slow: str) -> tuple[dict[str, Any], bytes]:
        line = self._read_until(lambda: self._buffer.find(b"\n"), deadline, too_slow)
        raw = bytes(self._buffer[:line])
        del self._buffer[: line + 1]
        try:
            header = json.loads(raw)
            size = int(header["size"])
        except (ValueError, KeyError, TypeError):
            self.close(kill=True)
            raise ToolError(self.tool, -1, f"unreadable answer from the resident process: {raw[:200]!r}") from None
        cap = current_limits().tool_output_bytes
        if size > cap:
            self.close(kill=True)
            raise ToolLimitExceeded(self.tool, "output", f"output limit of {describe_bytes(cap)}")
        self._read_until(lambda: size if len(self._buffer) >= size else -1, deadline, too_slow)
        body = bytes(self._buffer[:size])
        del self._buffer[:size]
        return header, body

    def _read_until(self, found: Any, deadline: float, too_slow: str) -> int:
        """Read stdout into the buffer until `found()` is not -1; returns its value."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while (position := found()) == -1:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    if time.monotonic() < deadline:
                        continue
                    self.close(kill=True)
                    raise ToolLimitExceeded(self.tool, "time", too_slow)
                chunk = os.read(fd, _READ_CHUNK)
                if not chunk:
                    raise self._died()
                self._buffer += chunk
        return int(position)

    def _died(self) -> ToolError:
        """Why the child stopped answering: a limit it ran into, or its last words."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        self.close(kill=self.proc.returncode is None)
        code = self.proc.returncode if self.proc.returncode is not None else -signal.SIGKILL
        head, tail = self._stderr.finish()
        if ran_out_of_memory(head, tail):
            memory = f"memory limit of {describe_bytes(current_limits().tool_memory_bytes)} (FLUXFORM_TOOL_MEMORY_MB)"
            return ToolLimitExceeded(self.tool, "memory", memory)
        if code == -signal.SIGXCPU:
            return ToolLimitExceeded(self.tool, "cpu", f"CPU time limit of {self.cpu_limit} s")
        text = (head if code > 0 and head else tail).decode("utf-8", "replace").strip()[-2000:]
        if code < 0 and not text:
            text = f"killed by {signal.Signals(-code).name}"
        return ToolError(self.tool, code, text or "exited without answering")
