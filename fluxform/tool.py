"""The one door to subprocesses: every external program runs through `run_tool`.

Secrets go by stdin or environment, never argv. Failures raise `ToolError` with the tail of
stderr so the user sees the program's own message.

Every child is bounded and can be stopped (issue 15): it runs in its own process group
with a heap limit (RLIMIT_DATA) and a CPU-time limit, its stdout is capped, and it is
killed, group and all, at its deadline. When the run is cancelled (fluxform.cancellation)
every live child group is killed at once and no new one starts, except the cleanup tools
(`cleanup=True`, e.g. stopping a gpg-agent).

    result = run_tool(["kubectl", "kustomize", str(path)], tool="kustomize", timeout=300)
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fluxform import cancellation
from fluxform.errors import ToolError, ToolLimitExceeded
from fluxform.limits import current_limits, describe_bytes

__all__ = [
    "ToolResult",
    "cpu_seconds",
    "find_executable",
    "kill_children",
    "ran_out_of_memory",
    "run_tool",
    "start_tool",
    "stop_tool",
]

_STDERR_TAIL = 2000
_STDERR_KEEP = 64 * 1024  # stderr kept while running (its tail is what errors quote)
_STDERR_HEAD = 4096  # and its start, where Go's runtime says why it died
_READ_CHUNK = 1 << 16
_OOM_MARKERS = ("out of memory", "cannot allocate memory", "out of core", "memory exhausted")


@dataclass(frozen=True, slots=True)
class ToolResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def kill_children() -> None:
    """SIGKILL every live child's process group (their own children included)."""
    for pid in list(_children):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


cancellation.on_cancel(kill_children)


def run_tool(
    argv: Sequence[str],
    *,
    tool: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 300.0,
    check: bool = True,
    hint: str = "",
    cleanup: bool = False,
    executable: str | None = None,
) -> ToolResult:
    """Run `argv`; with `check`, a non-zero exit raises ToolError carrying stderr's tail.

    `env` is merged over a copy of os.environ (so PATH etc. survive). Past `timeout`
    seconds, the memory limit or the output cap, it raises ToolLimitExceeded naming the
    limit. `cleanup`: may run while the run is being cancelled. `executable`: the program
    to start when argv[0] is only the name it should see (the Helm worker's field manager)."""
    if not cleanup:
        cancellation.raise_if_cancelled()
    limits = current_limits()
    proc = _spawn(
        argv,
        tool=tool,
        cwd=cwd,
        env=env,
        pipe_stdin=stdin is not None,
        timeout=timeout,
        hint=hint,
        executable=executable,
    )
    with _tracked(proc, cleanup):
        try:
            stdout, stderr, stderr_head = _exchange(proc, stdin, timeout, limits.tool_output_bytes)
        except _Exceeded as exceeded:
            raise ToolLimitExceeded(tool, exceeded.kind, exceeded.limit, hint=hint) from None
    if proc.returncode != 0 and ran_out_of_memory(stderr_head, stderr):
        memory = f"memory limit of {describe_bytes(limits.tool_memory_bytes)} (FLUXFORM_TOOL_MEMORY_MB)"
        raise ToolLimitExceeded(tool, "memory", memory, hint=hint)
    if proc.returncode == -signal.SIGXCPU:
        raise ToolLimitExceeded(tool, "cpu", f"CPU time limit of {cpu_seconds(timeout)} s", hint=hint)
    if not cleanup:
        cancellation.raise_if_cancelled()  # killed because the run stops: not the tool's failure
    if check and proc.returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip()[-_STDERR_TAIL:]
        if proc.returncode < 0 and not tail:
            tail = f"killed by {signal.Signals(-proc.returncode).name}"
        raise ToolError(tool, proc.returncode, tail, hint=hint)
    return ToolResult(stdout, stderr, proc.returncode)


def _spawn(
    argv: Sequence[str],
    *,
    tool: str,
    cwd: Path | None,
    env: Mapping[str, str] | None,
    pipe_stdin: bool,
    timeout: float,
    hint: str,
    executable: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own process group with the heap and CPU limits."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    limits = current_limits()
    try:
        proc = subprocess.Popen(
            list(argv),
            executable=executable,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so it can be killed whole
            preexec_fn=None if _PRLIMIT else _child_limits(limits.tool_memory_bytes, timeout),
        )
    except FileNotFoundError as exc:
        raise ToolError(tool, 127, f"executable not found: {argv[0]}", hint=hint) from exc
    except OSError as exc:
        raise ToolError(tool, 126, f"cannot run {argv[0]}: {exc.strerror or exc}", hint=hint) from exc
    if _PRLIMIT:
        _limit_child(proc.pid, limits.tool_memory_bytes, timeout)
    return proc


def start_tool(
    argv: Sequence[str], *, tool: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A long-lived child (stdin, stdout and stderr piped) with run_tool's bounds: its own
    process group, the heap limit and a CPU-time limit of `timeout` on every core, killed
    when the run is cancelled. The caller talks to it and ends it with `stop_tool`."""
    cancellation.raise_if_cancelled()
    proc = _spawn(argv, tool=tool, cwd=None, env=env, pipe_stdin=True, timeout=timeout, hint="")
    with _children_lock:
        _children[proc.pid] = proc
    if cancellation.cancelled():  # the signal came between our check and the start
        _kill_group(proc)
    return proc


def stop_tool(proc: subprocess.Popen[bytes], *, kill: bool) -> None:
    """End a child from `start_tool`: closing its stdin asks it to leave; `kill` (or a child
    still there after a second) ends its whole group. Reaped and forgotten either way."""
    if kill:
        _kill_group(proc)
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        with contextlib.suppress(Exception):
            proc.wait()
    with _children_lock:
        _children.pop(proc.pid, None)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def find_executable(name: str) -> str | None:
    """Prefer the executable installed beside this Python (the venv's wheels), then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def cpu_seconds(timeout: float) -> int:
    """CPU time a child may use: its wall-clock budget on every core, plus a margin (only a
    child that outlives its parent can reach it: the deadline kills the others first)."""
    return math.ceil(timeout) * max(1, os.cpu_count() or 1) + 10


#: Linux sets a child's limits from the parent right after it starts, which keeps
#: subprocess's fast spawn path (vfork); a preexec_fn forces fork(), 3-4 ms per tool in a
#: process holding the Helm SDK. The child may run a few microseconds unlimited: harmless for
#: limits meant to stop runaway growth over seconds.
_PRLIMIT = hasattr(resource, "prlimit")


def _limit_child(pid: int, memory_bytes: int, timeout: float) -> None:
    cpu = cpu_seconds(timeout)
    with contextlib.suppress(ProcessLookupError):  # already gone
        resource.prlimit(pid, resource.RLIMIT_DATA, _within(resource.RLIMIT_DATA, memory_bytes, memory_bytes))
        resource.prlimit(pid, resource.RLIMIT_CPU, _within(resource.RLIMIT_CPU, cpu, cpu + 5))


def _child_limits(memory_bytes: int, timeout: float) -> Callable[[], None]:
    """Elsewhere: the same limits set in the forked child before exec."""
    cpu = cpu_seconds(timeout)
    data = _within(resource.RLIMIT_DATA, memory_bytes, memory_bytes)
    cpu_limits = _within(resource.RLIMIT_CPU, cpu, cpu + 5)

    def apply() -> None:  # runs in the forked child, before exec: only async-signal-safe work
        resource.setrlimit(resource.RLIMIT_DATA, data)
        resource.setrlimit(resource.RLIMIT_CPU, cpu_limits)

    return apply


def _within(which: int, soft: int, hard: int) -> tuple[int, int]:
    """(soft, hard) no higher than this process's own hard limit: a process running under
    limits itself (fluxform's Helm worker runs a kustomize) may only lower them."""
    _, own_hard = resource.getrlimit(which)
    if own_hard == resource.RLIM_INFINITY:
        return soft, hard
    return min(soft, own_hard), min(hard, own_hard)


@contextlib.contextmanager
def _tracked(proc: subprocess.Popen[bytes], cleanup: bool) -> Iterator[None]:
    """Registered for kill_children while it runs; killed (group and all) and reaped on the
    way out of any failure, so no child outlives its call."""
    with _children_lock:
        _children[proc.pid] = proc
    if cancellation.cancelled() and not cleanup:  # the signal came between our check and the start
        _kill_group(proc)
    try:
        yield
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        with contextlib.suppress(Exception):
            proc.wait()
        with _children_lock:
            _children.pop(proc.pid, None)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)


class _Exceeded(Exception):
    def __init__(self, kind: str, limit: str) -> None:
        super().__init__(limit)
        self.kind = kind
        self.limit = limit


def _exchange(
    proc: subprocess.Popen[bytes], stdin: bytes | None, timeout: float, max_output: int
) -> tuple[bytes, bytes, bytes]:
    """communicate() with a deadline and an output cap; raises _Exceeded past either.
    Returns stdout, the tail of stderr and its head."""
    deadline = time.monotonic() + timeout
    too_slow = f"time limit of {timeout:g} s"
    out: list[bytes] = []
    err = bytearray()
    head = bytearray()
    out_size = 0
    pending = memoryview(stdin or b"")
    with selectors.DefaultSelector() as selector:
        if proc.stdin is not None:
            if pending:
                os.set_blocking(proc.stdin.fileno(), False)
                selector.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
        assert proc.stdout is not None and proc.stderr is not None
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Exceeded("time", too_slow)
            for key, _ in selector.select(remaining):
                if key.fileobj is proc.stdin:
                    pending = _feed(selector, proc, pending)
                    continue
                chunk = os.read(key.fd, _READ_CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    out_size += len(chunk)
                    if out_size > max_output:
                        raise _Exceeded("output", f"output limit of {describe_bytes(max_output)}")
                    out.append(chunk)
                else:
                    if len(head) < _STDERR_HEAD:
                        head += chunk[: _STDERR_HEAD - len(head)]
                    err += chunk
                    del err[: max(0, len(err) - _STDERR_KEEP)]
    remaining = deadline - time.monotonic()
    try:
        proc.wait(timeout=max(remaining, 0.001))
    except subprocess.TimeoutExpired:
        raise _Exceeded("time", too_slow) from None
    return b"".join(out), bytes(err), bytes(head)


def _feed(selector: selectors.BaseSelector, proc: subprocess.Popen[bytes], pending: memoryview) -> memoryview:
    assert proc.stdin is not None
    try:
        written = os.write(proc.stdin.fileno(), pending[:_READ_CHUNK])
    except BlockingIOError:
        return pending
    except BrokenPipeError:
        written = len(pending)  # the child stopped reading; its exit code will say why
    pending = pending[written:]
    if not pending:
        selector.unregister(proc.stdin)
        proc.stdin.close()
    return pending


def ran_out_of_memory(head: bytes, tail: bytes) -> bool:
    """Go's runtime (first line, before its goroutine dump), gpg and C programs (last
    lines) each say it in their own words on stderr."""
    text = (head + b"\n" + tail[-4096:]).decode("utf-8", "replace").lower()
    return any(marker in text for marker in _OOM_MARKERS)
