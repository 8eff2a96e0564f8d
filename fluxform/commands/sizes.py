"""Sizes as people write them on the command line (`512MiB`, `100MB`, `100000000`).

parse_size("512MiB")  # 536870912
"""

from __future__ import annotations

import re

import click

__all__ = ["parse_size"]

_SIZE = re.compile(r"(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1 << 20, "mb": 10**6, "mib": 1 << 20,
          "g": 1 << 30, "gb": 10**9, "gib": 1 << 30}  # fmt: skip


def parse_size(value: str) -> int:
    """Bytes; a bad value is a usage error naming it."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise click.BadParameter(f"{value!r}: expected a size such as 512MiB or 100000000")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]
