"""fluxform CLI processes started fast: a server process imports fluxform once, then forks one
child per command, so a test that kills many real processes (kill -9 trials) does not pay
~1 s of imports for each. The children are ordinary processes running `fluxform.cli.main`:
their own pid, stdout and stderr to /dev/null, killed like any other.

with CliForkServer() as server:
    pid = server.start(["apply", "clusters/dev", "--auto-approve"])
    server.running(pid)          # False once it exited (children are reaped by the server)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import TracebackType
from typing import Self

__all__ = ["CliForkServer"]

_SERVER = """
import json, os, signal, sys
from fluxform.cli import main
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they exit
for line in sys.stdin:
    argv = json.loads(line)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = 1
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os._exit(code)
    print(pid, flush=True)
"""


class CliForkServer:
    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self, argv: list[str]) -> int:
        """Fork a child running `fluxform ARGV`; its pid."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(argv) + "\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())

    @staticmethod
    def running(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)
