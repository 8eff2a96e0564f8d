"""kill -9 at a chosen point of a fluxform CLI process: just after its N-th write request
reached the emulator (dry-runs are not writes), so trials spread over every phase of an apply.

with CliForkServer() as server:
    killed = kill_after_writes(kubeapi, server, ["apply", str(cluster), ...], writes=7)
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from tests.kubeapi import KubeApi
from tests.kubeapi.controls import RequestRecord
from tests.support.forkserver import CliForkServer

__all__ = ["is_write", "kill_after_writes"]


def is_write(record: RequestRecord) -> bool:
    return record.method in ("PATCH", "DELETE", "PUT", "POST") and "dryRun" not in record.query


def kill_after_writes(api: KubeApi, server: CliForkServer, argv: list[str], writes: int) -> bool:
    """Start the command; SIGKILL it once `writes` writes reached the cluster. False when it
    finished first."""
    api.server.clear_requests()
    pid = server.start(argv)
    deadline = time.monotonic() + 120
    seen, counted = 0, 0
    try:
        while server.running(pid) and time.monotonic() < deadline:
            log = api.server.requests  # counted incrementally: a busy poll must not starve the emulator
            counted += sum(1 for record in log[seen:] if is_write(record))
            seen = len(log)
            if counted >= writes:
                os.kill(pid, signal.SIGKILL)
                return True
            time.sleep(0.005)
        return False
    finally:
        while server.running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
