"""A component a test needs is missing from this machine: skip with the reason on a developer's
machine, fail in CI, where `.ci/run` installs everything and a skip would hide a path never run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["missing_component"]


def missing_component(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI must run this test: {reason}", pytrace=False)
    pytest.skip(reason)
