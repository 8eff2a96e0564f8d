"""The build cache is an input (CI restores it): every entry is verified before it is
believed, and a bad one is discarded with one warning and built again."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from fluxform.cache_entry import seal
from fluxform.errors import FluxformWarning
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.kustomization.build import BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from tests.support.trees import write_tree

OWNER = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
TREE = {
    "kustomization.yaml": "resources: [deploy.yaml]\n",
    "deploy.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
    ),
}


def _build(root: Path, cache: BuildCache) -> str:
    return build_directory(BuildRequest(OWNER, SourceLocation("apps.yaml"), root, "", None), cache).text


def _entry(cache_dir: Path) -> Path:
    (entry,) = [p for p in cache_dir.rglob("*.yaml") if p.is_file()]
    return entry


def _emptied(path: Path) -> None:
    path.write_bytes(b"")


def _backdoored(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"nginx:1.27", b"evil.example/backdoor"))


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _plain_yaml(path: Path) -> None:  # what an older fluxform (or an attacker) writes: no seal
    path.write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planted\n")


def _other_entry(path: Path) -> None:  # a valid entry of other inputs, renamed into place
    path.write_bytes(seal("0" * 64, b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: planted\n"))


def _symlink(path: Path) -> None:
    target = path.with_name("elsewhere")
    target.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(target)


DAMAGE = [_emptied, _backdoored, _random_bytes, _plain_yaml, _other_entry, _symlink]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_damaged_entry_is_discarded_with_one_warning_and_rebuilt(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    root = write_tree(tmp_path / "repo", TREE)
    cache = BuildCache(tmp_path / "cache")
    fresh = _build(root, cache)
    entry = _entry(tmp_path / "cache")
    damage(entry)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = _build(root, cache)
    assert again == fresh
    assert "evil.example" not in again and "planted" not in again
    messages = [str(w.message) for w in caught if issubclass(w.category, FluxformWarning)]
    assert len(messages) == 1 and str(entry) in messages[0] and "discarded" in messages[0]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _build(root, cache) == fresh  # the rebuilt entry is good again
    assert caught == []
    assert cache.hits == 1


def test_good_entry_is_a_hit_without_running_kustomize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_tree(tmp_path / "repo", TREE)
    cache = BuildCache(tmp_path / "cache")
    fresh = _build(root, cache)
    monkeypatch.setenv("PATH", "/nonexistent")
    import fluxform.planner.kustomization.build as build_module

    monkeypatch.setattr(build_module, "_run_build", lambda *a: pytest.fail("kustomize ran on a cache hit"))
    assert _build(root, cache) == fresh
    assert cache.hits == 1


def test_entries_are_private(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", TREE)
    _build(root, BuildCache(tmp_path / "cache"))
    entry = _entry(tmp_path / "cache")
    assert entry.stat().st_mode & 0o077 == 0
    assert entry.parent.stat().st_mode & 0o077 == 0
