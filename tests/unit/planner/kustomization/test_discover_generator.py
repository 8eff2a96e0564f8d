"""Kustomizations reading ExternalArtifacts that an ArtifactGenerator of the fleet builds
(flux2-kustomize-helm-example's layout): the generator's copy operations decide what the
Kustomization's path sees, wherever in the fleet the generator is rendered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.model import Cause, DesiredState, OwnerStatus
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.workflow import FleetRequest
from fluxform.views.revdiff import diff_to_dict
from tests.support.diffjson import without_mode
from tests.support.gitrepo import TestRepo
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, write_tree

GENERATOR = """\
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata:
  name: split
  namespace: flux-system
spec:
  sources:
    - alias: repo
      kind: GitRepository
      name: flux-system
  artifacts:
    - name: infrastructure
      copy:
        - from: "@repo/infrastructure/**"
          to: "@artifact/"
          exclude: ["*.md"]
    - name: apps
      copy:
        - from: "@repo/apps/base/**"
          to: "@artifact/base/"
        - from: "@repo/apps/dev/**"
          to: "@artifact/dev/"
"""
SYNC = FLUX_SYSTEM_SOURCE + "---\n"


def _configmap(name: str, namespace: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  v: {value}\n"
    )


def _external(name: str, path: str, artifact: str) -> str:
    text = flux_kustomization(name, path)
    return text.replace(
        "    kind: GitRepository\n    name: flux-system", f"    kind: ExternalArtifact\n    name: {artifact}"
    )


FLEET = {
    "clusters/dev/flux-system/gotk-sync.yaml": SYNC + flux_kustomization("flux-system", "./clusters/dev"),
    "clusters/dev/infrastructure.yaml": _external("infra", "./controllers", "infrastructure"),
    "clusters/dev/apps.yaml": _external("apps", "./dev", "apps"),
    "infrastructure/controllers/cm.yaml": _configmap("controller", "infra", "one"),
    "infrastructure/controllers/README.md": "excluded by the generator\n",
    "apps/base/kustomization.yaml": "resources: [cm.yaml]\n",
    "apps/base/cm.yaml": _configmap("app", "apps", "base"),
    "apps/dev/kustomization.yaml": "resources: [../base]\nnamePrefix: dev-\n",
}


def _render(root: Path) -> DesiredState:
    return discover(root / "clusters/dev", DiscoverOptions(repo_root=root, cache=BuildCache.disabled(), jobs=2))


def _names(state: DesiredState, owner: str) -> list[str]:
    found = state.owner(ObjectId("flux-system", owner, "kustomize.toolkit.fluxcd.io", "Kustomization"))
    assert found is not None, owner
    return sorted(str(o.id) for o in found.objects)


def test_kustomizations_read_the_artifacts_the_generator_builds(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", {**FLEET, "clusters/dev/generator.yaml": GENERATOR})

    state = _render(root)

    assert _names(state, "infra") == ["ConfigMap/infra/controller"]  # controllers/ at the artifact root
    assert _names(state, "apps") == ["ConfigMap/apps/dev-app"]  # dev/ reads ../base inside the artifact
    assert not state.diagnostics or all("ExternalArtifact" not in d.summary for d in state.diagnostics)


def test_a_generator_rendered_by_a_sibling_kustomization_is_waited_for(tmp_path: Path) -> None:
    files = {
        **FLEET,
        "clusters/dev/sources.yaml": flux_kustomization("sources", "./sources"),
        "sources/generator.yaml": GENERATOR,
    }
    root = write_tree(tmp_path / "repo", files)

    state = _render(root)

    assert _names(state, "sources") == ["ArtifactGenerator/flux-system/split"]
    assert _names(state, "infra") == ["ConfigMap/infra/controller"]
    assert _names(state, "apps") == ["ConfigMap/apps/dev-app"]


def test_an_external_artifact_no_generator_builds_leaves_its_kustomizations_unplanned(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", FLEET)

    state = _render(root)

    waiting = [o for o in state.owners if o.status is OwnerStatus.NOT_PLANNED]
    assert waiting and all(o.cause is Cause.SOURCE for o in waiting)
    assert all(o.reason.startswith("no ArtifactGenerator in the fleet produces ExternalArtifact") for o in waiting)
    assert all("--source flux-system/" in o.reason for o in waiting)


def test_the_example_layout_is_not_mistaken_for_the_self_managing_kustomization(tmp_path: Path) -> None:
    """apps.yaml's path `./dev` names the start directory's last segment inside its artifact;
    it must not make `clusters/` the source root (find_repo_root)."""
    files = dict(FLEET)
    files["clusters/dev/flux-system/kustomization.yaml"] = "resources: [gotk-sync.yaml]\n"
    files["clusters/dev/flux-system/gotk-sync.yaml"] = SYNC.removesuffix("---\n")  # no flux-system Kustomization
    files["clusters/dev/generator.yaml"] = GENERATOR
    repo = TestRepo.create(tmp_path / "repo")
    write_tree(repo.path, files)
    repo.commit("fleet")

    state = discover(repo.path / "clusters/dev", DiscoverOptions(cache=BuildCache.disabled(), jobs=2))

    assert _names(state, "apps") == ["ConfigMap/apps/dev-app"]
    assert any("no Flux Kustomization under clusters/dev builds it" in d.summary for d in state.diagnostics)


def test_diff_of_the_example_layout_reads_the_generator_sources_from_the_repository_top(tmp_path: Path) -> None:
    """A tree read from git has no .git: without a flux-system Kustomization, the source
    root of each revision is the repository top, not the cluster directory."""
    files = dict(FLEET)
    files["clusters/dev/flux-system/gotk-sync.yaml"] = SYNC.removesuffix("---\n")  # no flux-system Kustomization
    files["clusters/dev/generator.yaml"] = GENERATOR
    repo = TestRepo.create(tmp_path / "repo")
    write_tree(repo.path, files)
    base = repo.commit("fleet")
    repo.write("apps/base/cm.yaml", _configmap("app", "apps", "changed"))
    repo.commit("apps: new value")

    def run(changed_only: bool) -> dict[str, Any]:
        fleet = FleetRequest(DiscoverOptions(cache=BuildCache(tmp_path / "cache"), jobs=2))
        request = DiffRequest((repo.path / "clusters",), base, fleet=fleet, changed_only=changed_only)
        return diff_to_dict(diff_revisions(replace(request, index_dir=tmp_path / "index")))

    full, cold, warm = run(False), run(True), run(True)

    assert full["summary"] == {"add": 0, "change": 1, "destroy": 0, "forget": 0, "not_planned": 0}
    (cluster,) = full["clusters"]
    (owner,) = [o for o in cluster["owners"] if o["changes"]]
    assert owner["id"] == "Kustomization/flux-system/apps"
    assert [c["name"] for c in owner["changes"]] == ["dev-app"]
    assert without_mode(cold) == without_mode(full) and without_mode(warm) == without_mode(full)
