"""Stopping a run on SIGINT, SIGTERM (what CI cancellation sends) or SIGHUP, cleanly.

The first signal becomes a `Cancelled` exception in the main thread, exactly like Ctrl-C's
KeyboardInterrupt, so every `with`/`finally` on the way out runs: private temp dirs holding
plaintext are removed, gpg-agents are stopped. At the same moment every child process
group is killed (`on_cancel` callbacks; fluxform.tool registers one), so worker threads
blocked on kustomize or sops return at once, and no new child starts (tool.run_tool
refuses, except the cleanup tools themselves).

Cleanup must never be cut short: further signals are ignored once stopping has begun, and
a signal arriving inside a `shielded()` block (the removal of a plaintext directory) is
delivered only when the block ends.

    with stop_on_signals():
        run()           # raises Cancelled on the first signal
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

__all__ = ["SIGNALS", "Cancelled", "cancelled", "on_cancel", "raise_if_cancelled", "shielded", "stop_on_signals"]

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Cancelled(KeyboardInterrupt):
    """The run was stopped by a signal; a KeyboardInterrupt, so `except Exception` never
    swallows it and every cleanup on the way out runs."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.signal_name}")


@dataclass
class _State:
    signum: int | None = None  # the signal that stopped the run
    pending: bool = False  # arrived inside a shielded block, not yet raised
    shield_depth: int = 0  # main thread only
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_STATE = _State()


def cancelled() -> bool:
    """Whether a signal has asked this run to stop."""
    return _STATE.signum is not None


def raise_if_cancelled() -> None:
    """For work about to start (in any thread): stop instead."""
    if _STATE.signum is not None:
        raise Cancelled(_STATE.signum)


def on_cancel(callback: Callable[[], None]) -> None:
    """Run `callback` (from the signal handler, so: quick, no locks it may already hold) on
    the first signal."""
    with _STATE.lock:
        _STATE.callbacks.append(callback)


def _handle(signum: int, frame: FrameType | None) -> None:
    if _STATE.signum is not None:
        return  # already stopping: let the cleanup finish
    _STATE.signum = signum
    for callback in list(_STATE.callbacks):
        with contextlib.suppress(Exception):
            callback()
    if _STATE.shield_depth > 0:
        _STATE.pending = True
        return
    raise Cancelled(signum)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """A block no signal interrupts (in the main thread; other threads never get signal
    exceptions). A signal that arrives meanwhile is raised when the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STATE.shield_depth += 1
    try:
        yield
    finally:
        _STATE.shield_depth -= 1
        if _STATE.shield_depth == 0 and _STATE.pending and _STATE.signum is not None:
            _STATE.pending = False
            raise Cancelled(_STATE.signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Handle SIGINT, SIGTERM and SIGHUP as described above for the block (main thread
    only; elsewhere a no-op), then restore the previous handlers (or, when a signal stopped
    the run, ignore those signals until the process exits) and forget the signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    _STATE.signum, _STATE.pending, _STATE.shield_depth = None, False, 0
    for signum in SIGNALS:
        signal.signal(signum, _handle)
    try:
        yield
    finally:
        with shielded():  # a signal between here and the restore must not escape half-way
            stopping = _STATE.signum is not None
            for signum, handler in previous.items():
                # once stopped, the process is on its way out: more signals must not kill it
                # before it reports (a default SIGHUP/SIGTERM action would)
                signal.signal(signum, signal.SIG_IGN if stopping else handler)
            _STATE.signum, _STATE.pending = None, False
