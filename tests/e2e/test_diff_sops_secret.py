"""A SOPS-encrypted Secret gets a new value: the diff says which Secrets changed, with
their fingerprints changing, and no plaintext (old or new) appears in any output."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.decrypt import sops_executable
from fluxform.tool import run_tool
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.gitrepo import TestRepo
from tests.support.sops import SopsCli

RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys/README.md
SECRETS_FILE = "fleet/clusters/staging/vars/cluster-secrets.yaml"


def _decrypt(path: Path) -> dict[str, Any]:
    sops = sops_executable()
    assert sops is not None
    env = {"SOPS_AGE_KEY_FILE": str(KEYS / "test-only.agekey")}
    argv = [sops, "--disable-version-check", "--decrypt", "--input-type", "yaml", "--output-type", "yaml", str(path)]
    loaded = yamlio.load(run_tool(argv, tool="sops", env=env).stdout)
    assert isinstance(loaded, dict)
    return loaded


def test_secret_change_is_masked_and_fingerprints_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "fleet", "fleet")
    base = repo.commit("fleet")
    doc = _decrypt(repo.path / SECRETS_FILE)
    old_token = str(doc["stringData"]["api_token"])
    new_token = "staging-" + secrets.token_urlsafe(24)
    doc["stringData"]["api_token"] = new_token
    sops = SopsCli(tmp_path)
    plain = yamlio.dump(doc).encode()
    encrypted = sops.encrypt(plain, "yaml", age=[RECIPIENT], extra=["--encrypted-regex", "^(data|stringData)$"])
    del plain, doc
    (repo.path / SECRETS_FILE).write_bytes(encrypted)
    repo.commit("rotate the staging api token")

    path = repo.path / "fleet/clusters/staging"
    outputs = [
        run("diff", path, "--base", base, "--keys-dir", KEYS, "--format", f) for f in ("json", "text", "markdown")
    ]

    assert all(r.code == 0 for r in outputs), [r.err for r in outputs]
    (cluster,) = json.loads(outputs[0].out)["clusters"]
    changes = {(c["kind"], c["namespace"], c["name"]): c for o in cluster["owners"] for c in o["changes"]}
    assert {k for k in changes if k[0] == "Secret"} == {
        ("Secret", "flux-system", "cluster-secrets"),
        ("Secret", "apps", "podinfo-token"),
    }
    # guestbook's chart uses reconcileStrategy: Revision, so any new revision is a new chart
    # version (as in Flux); nothing else may change.
    others = [c for k, c in changes.items() if k[0] != "Secret"]
    assert {c["owner"] for c in others} == {"HelmRelease/apps/guestbook"}
    assert {f for c in others for f in c["fields"]} == {
        'metadata.labels["helm.sh/chart"]',
        "spec.template.metadata.annotations.checksum/config",
    }
    root_secret = changes[("Secret", "flux-system", "cluster-secrets")]
    assert root_secret["action"] == "update" and root_secret["fields"] == ["data.api_token"]  # stringData folded
    before, after = root_secret["before"]["data"], root_secret["after"]["data"]
    assert before["api_token"].startswith("***(hmac:") and after["api_token"].startswith("***(hmac:")
    assert before["api_token"] != after["api_token"]
    assert before["redis_password"] == after["redis_password"]  # unchanged value, same fingerprint
    token = changes[("Secret", "apps", "podinfo-token")]
    assert token["fields"] == ["data.token"] and "***(hmac:" in token["diff"]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("### fluxform diff") == 3 and "podinfo-token" in summary  # appended once per run
    blobs = [r.out + r.err for r in outputs] + [summary]
    blobs += [p.read_text(errors="replace") for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    for value in (old_token, new_token):
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert not any(form in blob for blob in blobs)
