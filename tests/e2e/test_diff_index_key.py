"""A kept changed-only index never stands in for a render made under other flags.

The index says what each owner read and whether it rendered. A diff that reuses an index
made with other keys, another chart cache, offline instead of online, or other policies
could say "no changes" (exit 0) where a fresh cache fails, or the reverse. Each case runs
a first diff that keeps its index, then the diff under test with the same cache directory,
and checks it answers exactly as that diff does with a fresh cache.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.support.charts_http import ChartRepoServer, publish_versions
from tests.support.cli import KEYS, Result, run
from tests.support.gitrepo import TestRepo
from tests.support.sops import SopsCli
from tests.support.trees import flux_kustomization, helm_release, helm_repository

RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys/README.md
NO_CHANGES = "Plan: 0 to add, 0 to change, 0 to destroy."
SUBSTITUTE_FROM_THE_CLUSTER = (
    "  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: made-in-cluster\n"
)


def _configmap(name: str, namespace: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  a: '{value}'\n"
    )


def _diff(repo: TestRepo, base: str, cache: Path, *flags: str | Path) -> Result:
    return run("diff", repo.path / "clusters/dev", "--base", base, "--cache-dir", cache, "--no-color", *flags)


def _same_as_fresh(
    repo: TestRepo, base: str, tmp_path: Path, first: tuple[str | Path, ...], *flags: str | Path
) -> Result:
    """The diff with `flags`, after a first diff with `first` kept its index in the same
    cache: it must answer exactly as with a fresh cache."""
    kept = tmp_path / "kept-cache"
    primed = _diff(repo, base, kept, *first)
    assert primed.code in (0, 2), primed.err
    assert any((kept / "diff-index").iterdir()), "the first diff kept no index"
    fresh = _diff(repo, base, tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}", *flags)
    reused = _diff(repo, base, kept, *flags)
    assert (reused.code, reused.out, reused.err) == (fresh.code, fresh.out, fresh.err)
    return fresh


# -- the policies for owners left out ------------------------------------------------------------


@pytest.fixture
def missing_object_repo(tmp_path: Path) -> tuple[TestRepo, str]:
    """`web` substitutes from a ConfigMap the cluster makes; head changes web's own file."""
    repo = TestRepo.create(tmp_path / "repo")
    repo.write("clusters/dev/sync.yaml", flux_kustomization("flux-system", "./clusters/dev"))
    repo.write("clusters/dev/web.yaml", flux_kustomization("web", "./web", SUBSTITUTE_FROM_THE_CLUSTER))
    repo.write("clusters/dev/plain.yaml", flux_kustomization("plain", "./plain"))
    repo.write("plain/cm.yaml", _configmap("plain", "web", "1"))
    repo.write("web/cm.yaml", _configmap("web", "web", "1"))
    base = repo.commit("base")
    repo.write("web/cm.yaml", _configmap("web", "web", "2"))
    repo.commit("web: its own file changes")
    return repo, base


def test_index_kept_under_missing_objects_warn_is_not_read_by_a_default_diff(
    missing_object_repo: tuple[TestRepo, str], tmp_path: Path
) -> None:
    repo, base = missing_object_repo

    fresh = _same_as_fresh(repo, base, tmp_path, ("--missing-objects", "warn"))

    assert fresh.code == 1 and fresh.out == ""
    assert fresh.err.startswith("Error: Kustomization/flux-system/web (clusters/dev/web.yaml): not planned")
    assert len(list((tmp_path / "kept-cache/diff-index").iterdir())) == 4  # per revision and policy


def test_owner_not_rendered_at_base_is_never_unchanged_when_its_own_files_change(
    missing_object_repo: tuple[TestRepo, str], tmp_path: Path
) -> None:
    """`web` never rendered at base, so the index cannot know what it reads: a change to its
    own file is reported as not compared (the diff is partial), never as unchanged."""
    repo, base = missing_object_repo

    fresh = _same_as_fresh(repo, base, tmp_path, ("--missing-objects", "warn"), "--missing-objects", "warn")

    assert fresh.code == 0 and NO_CHANGES not in fresh.out
    assert "Kustomization/flux-system/web" in fresh.out and "not compared" in fresh.out
    assert fresh.out.rstrip().endswith("Plan: 0 to add, 0 to change, 0 to destroy; 1 owner not planned.")
    detailed = _diff(repo, base, tmp_path / "kept-cache", "--missing-objects", "warn", "--detailed-exitcode")
    assert detailed.code == 2


def test_owner_rendered_at_head_only_is_compared_when_its_own_files_change(
    missing_object_repo: tuple[TestRepo, str], tmp_path: Path
) -> None:
    """The head also adds the ConfigMap `web` waits for: `web` renders at head only, its
    own file changed; reusing the index from the base render (where it never rendered)
    must say so exactly as a fresh render does."""
    repo, _ = missing_object_repo
    base = repo.git("rev-parse", "HEAD~1").strip()
    repo.write("plain/made.yaml", _configmap("made-in-cluster", "flux-system", "x"))
    repo.commit("the ConfigMap web waits for is in the fleet now")

    fresh = _same_as_fresh(repo, base, tmp_path, ("--missing-objects", "warn"), "--missing-objects", "warn")

    assert fresh.code == 0, fresh.err
    assert "not compared: not planned at base" in fresh.out
    assert "ConfigMap/flux-system/made-in-cluster" in fresh.out


# -- the keys --------------------------------------------------------------------------------------


@pytest.fixture
def encrypted_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestRepo, str]:
    """`web` holds a SOPS Secret; head changes a file no owner reads."""
    for variable in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)
    repo = TestRepo.create(tmp_path / "repo")
    repo.write("clusters/dev/sync.yaml", flux_kustomization("flux-system", "./clusters/dev"))
    repo.write("clusters/dev/web.yaml", flux_kustomization("web", "./web", "  decryption:\n    provider: sops\n"))
    plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: web\nstringData:\n  token: abc\n"
    sealed = SopsCli(tmp_path).encrypt(
        plain.encode(), "yaml", age=[RECIPIENT], extra=["--encrypted-regex", "^(data|stringData)$"]
    )
    repo.write("web/cm.yaml", _configmap("web", "web", "1"))
    (repo.path / "web/secret.yaml").write_bytes(sealed)
    base = repo.commit("base")
    repo.write("README.md", "a file no owner reads\n")
    repo.commit("readme")
    return repo, base


def test_index_kept_with_keys_is_not_read_without_them(encrypted_repo: tuple[TestRepo, str], tmp_path: Path) -> None:
    repo, base = encrypted_repo

    fresh = _same_as_fresh(repo, base, tmp_path, ("--decryption-key", KEYS / "test-only.agekey"))

    assert fresh.code == 1 and "no decryption keys for this Kustomization" in fresh.err


def test_index_kept_without_keys_is_not_read_with_them(encrypted_repo: tuple[TestRepo, str], tmp_path: Path) -> None:
    repo, base = encrypted_repo

    fresh = _same_as_fresh(
        repo, base, tmp_path, ("--missing-keys", "warn"), "--decryption-key", KEYS / "test-only.agekey"
    )

    assert fresh.code == 0, fresh.err
    assert NO_CHANGES in fresh.out  # the keys decrypt it: nothing left out


# -- the charts ------------------------------------------------------------------------------------

CM_TEMPLATE = textwrap.dedent(
    """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-settings
    data:
      greeting: {{ .Values.greeting | quote }}
    """
)


def test_index_kept_with_a_filled_chart_cache_is_not_read_offline_with_an_empty_one(tmp_path: Path) -> None:
    repo = TestRepo.create(tmp_path / "repo")
    filled, empty = tmp_path / "charts-filled", tmp_path / "charts-empty"
    with ChartRepoServer(tmp_path / "chart-repo") as server:
        publish_versions(server, tmp_path / "src", "hello", ["1.0.0"], templates={"cm.yaml": CM_TEMPLATE})
        repo.write("clusters/dev/sync.yaml", flux_kustomization("flux-system", "./clusters/dev"))
        repo.write("clusters/dev/apps.yaml", flux_kustomization("apps", "./apps"))
        release = helm_release(
            "hello",
            "hello",
            namespace="apps",
            source="HelmRepository/apps/charts",
            chart_extra="      version: 1.0.0\n",
        )
        repo.write("apps/release.yaml", helm_repository("charts", "apps", server.url) + "---\n" + release)
        base = repo.commit("base")
        repo.write("README.md", "a file no owner reads\n")
        repo.commit("readme")
        online = ("--chart-cache", filled)  # fetched from the server into the filled cache
        fresh = _same_as_fresh(repo, base, tmp_path, online, "--offline", "--chart-cache", empty)
    assert fresh.code == 1
    assert fresh.err.startswith("Error: HelmRelease/apps/hello") and "is not in the cache (offline)" in fresh.err
    assert os.listdir(empty) == [] if empty.exists() else True
