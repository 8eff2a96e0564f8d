"""Through the CLI: `diff` checks the objects of both revisions against their schemas, as
`plan` does. A change that makes an object invalid leaves its owner "not compared" (an
error unless --partial), in the changed-only diff exactly as in --full: a changed CRD judges
the unchanged custom resources of its kind, and a changed custom resource is judged by the
CRD an unchanged owner renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.fleets import SCHEMA_ERRORS
from tests.support.gitrepo import TestRepo

#: the valid part of the SCHEMA_ERRORS fleet: the CRDs, a Widget, a Gadget, a ConfigMap
VALID = {k: v for k, v in SCHEMA_ERRORS.items() if not k.startswith(("apps/web/", "apps/workers/"))}
VALID["clusters/dev/apps.yaml"] = VALID["clusters/dev/apps.yaml"].replace("./apps/web", "./apps/fine")
VALID["clusters/dev/apps.yaml"] = VALID["clusters/dev/apps.yaml"].replace("./apps/workers", "./apps/after-web")
VALID["apps/widgets/widget.yaml"] = VALID["apps/widgets/widget.yaml"].replace("  colour: red\n", "")
VALID["apps/gadgets/gadget.yaml"] = VALID["apps/gadgets/gadget.yaml"].replace("turbo", "fast")


def repo_with(tmp_path: Path) -> tuple[TestRepo, str]:
    repo = TestRepo.create(tmp_path / "repo")
    for rel, text in VALID.items():
        repo.write(rel, text)
    return repo, repo.commit("a valid fleet")


def not_compared(result_out: str) -> dict[str, str]:
    data = json.loads(result_out)
    owners = [o for c in data["clusters"] for o in c["owners"]]
    return {o["id"]: o.get("reason", "") for o in owners if o["status"] == "not compared"}


@pytest.mark.parametrize("mode", ["changed-only", "full"])
def test_a_field_the_unchanged_crd_forbids(tmp_path: Path, mode: str) -> None:
    repo, base = repo_with(tmp_path)
    repo.replace("apps/widgets/widget.yaml", "  size: 3\n", "  size: 3\n  colour: red\n")
    repo.commit("a colour the CRD does not declare")
    flags = ["--full"] if mode == "full" else []
    cache = ["--cache-dir", str(tmp_path / "cache")]

    failed = run("diff", repo.path / "clusters/dev", "--base", base, *cache, *flags)
    assert failed.code == 1, failed.out
    assert "Widget/default/big (apps/widgets/widget.yaml): .spec.colour: field not declared in schema" in failed.err

    partial = run("diff", repo.path / "clusters/dev", "--base", base, "--partial", "-o", "json", *cache, *flags)
    assert partial.code == 0, partial.err
    assert list(not_compared(partial.out)) == ["Kustomization/flux-system/widgets"]


@pytest.mark.parametrize("mode", ["changed-only", "full"])
def test_a_crd_change_judges_the_unchanged_resources_of_its_kind(tmp_path: Path, mode: str) -> None:
    repo, base = repo_with(tmp_path)
    repo.replace("infra/crds/widget-crd.yaml", "minimum: 1", "minimum: 5")
    repo.commit("widgets must be at least 5")
    flags = ["--full"] if mode == "full" else []
    cache = ["--cache-dir", str(tmp_path / "cache")]
    run("diff", repo.path / "clusters/dev", "--base", base, "--no-validate", *cache)  # an index without the check

    failed = run("diff", repo.path / "clusters/dev", "--base", base, *cache, *flags)
    assert failed.code == 1, failed.out
    assert "Kustomization/flux-system/widgets" in failed.err and ".spec.size: must be at least 5" in failed.err

    allowed = run("diff", repo.path / "clusters/dev", "--base", base, "--no-validate", "--detailed-exitcode", *cache)
    assert allowed.code == 2, allowed.err  # the CRD changed; nothing refused
