"""`python -m tests.kubeapi --port PORT --kubeconfig FILE`: serve until SIGTERM/SIGINT.

Prints `kubeapi listening on http://127.0.0.1:<port>` once ready (port 0 picks a free
one) and exits 0 after a clean shutdown.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .launch import start_kubeapi


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.kubeapi", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig (context kubeapi) to this file")
    parser.add_argument("--watch-timeout", type=float, default=300.0, help="longest watch, in seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    api = start_kubeapi(args.kubeconfig, port=args.port, host=args.host, watch_timeout=args.watch_timeout)
    print(f"kubeapi listening on {api.url}", flush=True)
    if args.kubeconfig:
        print(f"kubeconfig written to {args.kubeconfig} (context kubeapi)", file=sys.stderr, flush=True)
    while not stop.wait(0.2):
        pass
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
