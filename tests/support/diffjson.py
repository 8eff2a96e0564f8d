"""Reading `fluxform diff` JSON in tests: changed-only and `--full` runs must print the same diff.

assert without_mode(changed_only) == without_mode(full)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["without_mode"]


def without_mode(data: Mapping[str, Any]) -> dict[str, Any]:
    """The diff without `mode` ("changed-only" or "full"): the one field the two ways of
    diffing are meant to differ in."""
    return {key: value for key, value in data.items() if key != "mode"}
