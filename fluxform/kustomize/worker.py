"""The resident process of the in-process engine: kustomize's Go API (pykustomize), loaded
once, building one directory per request line (fluxform.resident's framing).

Builds as `kubectl kustomize --load-restrictor LoadRestrictionsNone` does (builtin plugins
only, no Helm, no managed-by label), which is how kustomize-controller builds. Run by
fluxform.kustomize.inprocess, never by hand:

    python -m fluxform.kustomize.worker     # stdin: {"dir": "/abs/dir"} per line
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from importlib import metadata
from typing import Any, BinaryIO

__all__ = ["main"]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _answer(out: BinaryIO, header: dict[str, Any], body: bytes = b"") -> None:
    out.write(json.dumps({**header, "size": len(body), "cpu": _cpu_seconds()}).encode() + b"\n" + body)
    out.flush()


def main() -> int:
    out = sys.stdout.buffer
    try:
        import pykustomize
    except Exception as exc:  # the wheel is missing or its library does not load here
        _answer(out, {"ok": False, "error": f"pykustomize does not load: {type(exc).__name__}: {exc}"})
        return 1
    options = pykustomize.BuildOptions(load_restrictions=pykustomize.LoadRestrictions.NONE)
    try:
        kustomizer = pykustomize.Kustomizer()
        native = pykustomize.native_version()
    except pykustomize.KustomizeError as exc:
        _answer(out, {"ok": False, "error": f"pykustomize does not load: {exc}"})
        return 1
    loop = asyncio.new_event_loop()
    _answer(out, {"ok": True, "version": native, "package": metadata.version("pykustomize")})
    for line in sys.stdin.buffer:
        directory = str(json.loads(line)["dir"])
        try:
            result = loop.run_until_complete(kustomizer.build(directory, options))
        except pykustomize.KustomizeError as exc:
            _answer(out, {"ok": False, "error": str(exc)})
            continue
        _answer(out, {"ok": True}, result.yaml.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
