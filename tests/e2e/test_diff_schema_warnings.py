"""The schema check in changed-only diffs says what `--full` says: owners standing in count in
the warnings about kinds without a schema, and a CRD changed by one owner re-checks the
objects of its kind that another owner renders (found on onedr0p/home-ops, where every
changed-only diff dropped the "has no schema" warnings of the owners it did not render)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import run
from tests.support.gitrepo import TestRepo
from tests.support.trees import crd_text, flux_kustomization

WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n"
GADGET = "apiVersion: toys.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: default\n"


def _configmap(value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  v: '{value}'\n"


def _repo(tmp_path: Path) -> tuple[TestRepo, str]:
    repo = TestRepo.create(tmp_path / "repo")
    repo.write("clusters/dev/sync.yaml", flux_kustomization("flux-system", "./clusters/dev"))
    for name in ("app", "widgets", "crds"):
        repo.write(f"clusters/dev/{name}.yaml", flux_kustomization(name, f"./{name}"))
    repo.write("app/cm.yaml", _configmap("1"))
    repo.write("widgets/widget.yaml", WIDGET + "spec:\n  size: 1\n")  # no CRD for Widget in the fleet
    repo.write("widgets/gadget.yaml", GADGET + "spec:\n  size: 1\n")
    repo.write("crds/crd.yaml", crd_text("Gadget", group="toys.example.com"))
    return repo, repo.commit("base")


def _same_as_full(repo: TestRepo, base: str, tmp_path: Path) -> dict[str, Any]:
    common = ("diff", repo.path / "clusters/dev", "--base", base, "--head", "HEAD", "-o", "json", "--partial")
    full = run(*common, "--full", "--cache-dir", tmp_path / "full-cache")
    cold = run(*common, "--cache-dir", tmp_path / "cache")
    warm = run(*common, "--cache-dir", tmp_path / "cache")
    assert full.code == 0, full.err
    expected = {k: v for k, v in json.loads(full.out).items() if k != "mode"}
    for result in (cold, warm):
        assert {k: v for k, v in json.loads(result.out).items() if k != "mode"} == expected
    data: dict[str, Any] = json.loads(full.out)
    return data


def test_owners_standing_in_count_in_the_no_schema_warnings(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    repo.write("app/cm.yaml", _configmap("2"))  # only `app` reads a changed file
    repo.commit("app: another value")

    data = _same_as_full(repo, base, tmp_path)

    (cluster,) = data["clusters"]
    warnings = [d["summary"] for d in cluster["diagnostics"]]
    assert any(w.startswith("Widget (example.com/v1) has no schema") for w in warnings), warnings


def test_a_crd_changed_elsewhere_rechecks_its_objects(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    loose = "openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}"
    strict = "openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: string}}}}}"
    repo.replace("crds/crd.yaml", loose, strict)  # a Gadget's size must now be a string
    repo.commit("crds: Gadget.spec.size is a string")

    data = _same_as_full(repo, base, tmp_path)

    owners = {o["id"]: o for c in data["clusters"] for o in c["owners"]}
    assert owners["Kustomization/flux-system/widgets"]["status"] == "not compared"  # refused at head now
