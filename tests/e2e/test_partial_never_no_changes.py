"""A pull request that rotates a SOPS Secret and deletes an Ingress, both in a Kustomization
that decrypts, checked in CI without keys (`--missing-keys warn`): that Kustomization is not
rendered at either revision, so neither `diff` nor `plan` may say "0 to add, 0 to change,
0 to destroy" with exit 0 as if nothing changed; they say what they left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.state_from_plan import record_plan
from tests.support.cli import KEYS, run
from tests.support.gitrepo import TestRepo
from tests.support.sops import SopsCli
from tests.support.trees import flux_kustomization

RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys/README.md
KEY = KEYS / "test-only.agekey"
INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: web
spec:
  rules:
    - host: web.example.com
"""
NO_CHANGES = "Plan: 0 to add, 0 to change, 0 to destroy."


def _secret(sops: SopsCli, token: str) -> bytes:
    plain = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-token\n  namespace: web\nstringData:\n  token: {token}\n"
    )
    return sops.encrypt(plain.encode(), "yaml", age=[RECIPIENT], extra=["--encrypted-regex", "^(data|stringData)$"])


@pytest.fixture
def pull_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestRepo, str]:
    for variable in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)  # CI without secrets
    sops = SopsCli(tmp_path)
    repo = TestRepo.create(tmp_path / "repo")
    repo.write("clusters/dev/sync.yaml", flux_kustomization("flux-system", "./clusters/dev"))
    repo.write("clusters/dev/web.yaml", flux_kustomization("web", "./web", "  decryption:\n    provider: sops\n"))
    repo.write("clusters/dev/plain.yaml", flux_kustomization("plain", "./plain"))
    repo.write("plain/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: web\n")
    repo.write("web/ingress.yaml", INGRESS)
    (repo.path / "web/secret.yaml").write_bytes(_secret(sops, "old-token-value"))
    base = repo.commit("web, with its token and its ingress")
    (repo.path / "web/secret.yaml").write_bytes(_secret(sops, "new-token-value"))
    repo.git("rm", "-q", "web/ingress.yaml")
    repo.commit("rotate the web token, retire its ingress")
    return repo, base


@pytest.mark.parametrize("mode", ["changed-only", "full"])
def test_diff_under_missing_keys_warn_says_what_it_did_not_compare(
    pull_request: tuple[TestRepo, str], mode: str
) -> None:
    repo, base = pull_request
    common: tuple[str | Path, ...] = (
        "diff",
        repo.path / "clusters/dev",
        "--base",
        base,
        "--no-cache",
        *(["--full"] if mode == "full" else []),
    )

    refused = run(*common)
    warned = run(*common, "--missing-keys", "warn", "--no-color")
    detailed = run(*common, "--missing-keys", "warn", "--detailed-exitcode", "-o", "json")

    assert refused.code == 1 and "Kustomization/flux-system/web (clusters/dev/web.yaml): not planned" in refused.err
    assert warned.code == 0, warned.err
    assert NO_CHANGES not in warned.out
    assert warned.out.rstrip().endswith("Plan: 0 to add, 0 to change, 0 to destroy; 1 owner not planned.")
    assert "not compared: not planned at head (clusters/dev/web.yaml): no decryption keys" in warned.out
    assert detailed.code == 2  # never 0 while something was left out
    (cluster,) = json.loads(detailed.out)["clusters"]
    assert cluster["status"] == "partial"
    (owner,) = [o for o in cluster["owners"] if o["id"] == "Kustomization/flux-system/web"]
    assert owner["status"] == "not compared" and owner["changes"] == []


def test_plan_under_missing_keys_warn_leaves_the_ingress_alone_and_says_so(
    pull_request: tuple[TestRepo, str], tmp_path: Path
) -> None:
    repo, base = pull_request
    head = repo.git("rev-parse", "HEAD").strip()
    repo.git("checkout", "-q", base)
    applied = run(
        "plan", repo.path / "clusters/dev", "--decryption-key", KEY, "--no-cache", "--out", tmp_path / "p.json"
    )
    assert applied.code == 0, applied.err
    state = tmp_path / "state.json"
    record_plan(tmp_path / "p.json", state, mask_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    repo.git("checkout", "-q", head)

    result = run(
        "plan", repo.path / "clusters/dev", "--state", state, "--no-cache", "--missing-keys", "warn",
        "--detailed-exitcode", "--no-color",
    )  # fmt: skip

    assert result.code == 2, result.err
    assert NO_CHANGES not in result.out
    assert "Ingress/web/web" not in result.out  # not planned: nothing of it is pruned
    assert "not planned (clusters/dev/web.yaml): no decryption keys for this Kustomization" in result.out
    assert result.out.rstrip().endswith("Plan: 0 to add, 0 to change, 0 to destroy; 1 owner not planned.")
