"""SOPS file formats as kustomize-controller names and detects them.

Two rules, both from kustomize-controller's decryptor: the format of a *file* follows its
name (sops `FormatForPath`, plus keys ending in `.dockerconfigjson` read as JSON), and the
format of *bytes found in a Secret value* follows the SOPS marker they contain.

    format_for_path("app.env")          # SopsFormat.DOTENV
    format_from_markers(b'... "mac": "ENC[...')  # SopsFormat.JSON
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["SopsFormat", "contains_marker", "format_for_path", "format_from_markers"]


class SopsFormat(StrEnum):
    """Values are sops' own `--input-type`/`--output-type` names."""

    YAML = "yaml"
    JSON = "json"
    DOTENV = "dotenv"
    INI = "ini"
    BINARY = "binary"  # encrypted at rest as a JSON envelope {"data": "ENC[...]", "sops": {...}}


_MARKERS: dict[SopsFormat, bytes] = {
    SopsFormat.YAML: b"mac: ENC[",
    SopsFormat.JSON: b'"mac": "ENC[',
    SopsFormat.DOTENV: b"sops_mac=ENC[",
    SopsFormat.INI: b"[sops]",
    SopsFormat.BINARY: b'"mac": "ENC[',
}

# Flux walks a Go map (random order); JSON and binary share a marker and load the same
# envelope, so any fixed order gives Flux's result. JSON before binary keeps JSON output
# exact when a caller asks for the input format back.
_DETECTION_ORDER = (SopsFormat.YAML, SopsFormat.JSON, SopsFormat.DOTENV, SopsFormat.INI)


def format_for_path(path: str) -> SopsFormat:
    """Format chosen by name suffix, as sops and kustomize-controller do (binary by default)."""
    if path.endswith(".dockerconfigjson"):
        return SopsFormat.JSON
    if path.endswith((".yaml", ".yml")):
        return SopsFormat.YAML
    if path.endswith(".json"):
        return SopsFormat.JSON
    if path.endswith(".env"):
        return SopsFormat.DOTENV
    if path.endswith(".ini"):
        return SopsFormat.INI
    return SopsFormat.BINARY


def contains_marker(data: bytes, fmt: SopsFormat) -> bool:
    """Whether `data` carries the SOPS MAC marker of `fmt` (a cheap "is it encrypted" test)."""
    return _MARKERS[fmt] in data


def format_from_markers(data: bytes) -> SopsFormat | None:
    """The SOPS format whose marker `data` contains, or None for plain data."""
    for fmt in _DETECTION_ORDER:
        if _MARKERS[fmt] in data:
            return fmt
    return None
