"""The resident process of the in-process engine: kustomize's Go API (pykustomize), loaded
once, building one directory per request line (fluxform.resident's framing).

Builds as `kubectl kustomize --load-restrictor LoadRestrictionsNone` does (builtin plugins
only, no Helm, no managed-by label), which is how kustomize-controller builds. Output and
errors are passed on as the bytes Go wrote (pykustomize's own wrappers decode them strictly,
and kustomize quotes invalid UTF-8 from the files it read). Run by
fluxform.kustomize.inprocess, never by hand:

    python -m fluxform.kustomize.worker     # stdin: {"dir": "/abs/dir"} per line
"""

from __future__ import annotations

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


class _Library:
    """The build call of libpykustomize, returning Go's bytes undecoded."""

    def __init__(self) -> None:
        import pykustomize
        from pykustomize import _ffi

        self.ffi: Any = _ffi.ffi
        self.lib: Any = _ffi.get_library()
        options = pykustomize.BuildOptions(load_restrictions=pykustomize.LoadRestrictions.NONE)
        self.options = self.ffi.new("char[]", options.to_json().encode())
        self.version = str(pykustomize.native_version())

    def build(self, directory: str) -> tuple[bool, bytes]:
        """(True, output) or (False, kustomize's error)."""
        result = self.ffi.new("char**")
        code = self.lib.pykustomize_build(self.ffi.new("char[]", directory.encode()), self.options, result)
        if code != 0:
            error = self.lib.pykustomize_last_error()
            return False, bytes(self.ffi.string(error)) if error != self.ffi.NULL else b"unknown error"
        try:
            return True, bytes(self.ffi.string(result[0])) if result[0] != self.ffi.NULL else b""
        finally:
            if result[0] != self.ffi.NULL:
                self.lib.pykustomize_free(result[0])


def main() -> int:
    out = sys.stdout.buffer
    try:
        library = _Library()
    except Exception as exc:  # the wheel is missing or its library does not load here
        _answer(out, {"ok": False, "error": f"pykustomize does not load: {type(exc).__name__}: {exc}"})
        return 1
    _answer(out, {"ok": True, "version": library.version, "package": metadata.version("pykustomize")})
    for line in sys.stdin.buffer:
        ok, data = library.build(str(json.loads(line)["dir"]))
        if ok:
            _answer(out, {"ok": True}, data)
        else:
            _answer(out, {"ok": False, "error": data.decode("utf-8", "replace")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
