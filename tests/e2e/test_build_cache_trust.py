"""A build cache kept between CI runs cannot change a plan: damaged or edited entries are
discarded with one warning each and built again (issue 15, item 1)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import FIXTURES, KEYS, run

STAGING = FIXTURES / "fleet" / "clusters" / "staging"


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "builds").rglob("*.yaml") if p.is_file())


def test_tampered_entries_are_rebuilt_and_the_plan_is_unchanged(tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # the e2e conftest points FLUXFORM_CACHE_DIR here
    first = run("plan", STAGING, "--keys-dir", KEYS, "--no-color")
    assert first.code == 0, first.err
    entries = _entries(cache)
    assert len(entries) >= 3
    damage: list[Callable[[bytes], bytes]] = [
        lambda data: b"",  # a truncated restore: its objects must not vanish
        lambda data: (
            data.replace(b"image: ", b"image: evil.example/backdoor#", 1)
            if b"image: " in data
            else data + b"---\nkind: ConfigMap\n"
        ),  # an edit: nothing of it may reach the plan
        lambda data: os.urandom(2048),  # noise: no traceback
    ]
    for index, entry in enumerate(entries):
        entry.write_bytes(damage[index % len(damage)](entry.read_bytes()))

    second = run("plan", STAGING, "--keys-dir", KEYS, "--no-color")
    assert second.code == 0, second.err
    assert second.out == first.out
    assert "evil.example" not in second.out
    warnings = [line for line in second.err.splitlines() if line.startswith("Warning: build cache entry")]
    assert len(warnings) == len(entries)
    assert all("discarded" in line for line in warnings)
    assert "Traceback" not in second.err

    third = run("plan", STAGING, "--keys-dir", KEYS, "--no-color")
    assert (third.out, third.err) == (first.out, first.err)  # rebuilt entries are trusted again
