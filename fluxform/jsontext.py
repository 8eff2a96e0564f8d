"""JSON text exactly as `json.dumps(value, indent=2, sort_keys=True)` writes it, about twice as
fast: with an indent, the standard library falls back to its pure-Python generator encoder,
which took a fifth of a warm plan of a 500-object fleet (`-o json`). Strings go through the
standard library's C escaper, so the bytes are the same (a test compares on real plans).

    text = dumps_indented(plan_dict) + "\\n"
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps_indented"]

_escape = json.encoder.encode_basestring_ascii
_FLOAT = json.JSONEncoder()


def dumps_indented(value: Any) -> str:
    """`json.dumps(value, indent=2, sort_keys=True)`; JSON types only (dict keys strings)."""
    parts: list[str] = []
    _write(value, "", parts.append)
    return "".join(parts)


def _write(value: Any, indent: str, out: Any) -> None:
    if isinstance(value, str):
        out(_escape(value))
    elif value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, int):
        out(int.__repr__(value))
    elif isinstance(value, float):
        out(_FLOAT.encode(value))
    elif isinstance(value, dict):
        _write_items([(k, value[k]) for k in sorted(value)], indent, out, "{", "}")
    elif isinstance(value, list | tuple):
        _write_items([(None, item) for item in value], indent, out, "[", "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _write_items(items: list[tuple[str | None, Any]], indent: str, out: Any, opening: str, closing: str) -> None:
    if not items:
        out(opening + closing)
        return
    inner = indent + "  "
    out(opening + "\n" + inner)
    for index, (key, item) in enumerate(items):
        if index:
            out(",\n" + inner)
        if key is not None:
            if not isinstance(key, str):
                raise TypeError(f"keys must be str, not {type(key).__name__}")
            out(_escape(key) + ": ")
        _write(item, inner, out)
    out("\n" + indent + closing)
