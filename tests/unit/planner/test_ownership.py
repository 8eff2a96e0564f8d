"""One owner per object: Flux applies an object two owners render from both, so identical
copies (owner labels aside) are planned under the first owner with a warning; copies that
differ would overwrite each other and are an error."""

from __future__ import annotations

from pathlib import Path

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from tests.support.ids import ks
from tests.support.trees import flux_kustomization, write_tree

VALUES = ObjectId("flux-system", "operator-values", "", "ConfigMap")
#: flux-operator's layout (xunholy/k8s-gitops): the cluster directory has no kustomization.yaml,
#: so Flux's generated one takes in operator/app (it has one), which operator's own
#: Kustomization builds again
FLEET = {
    "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
    "clusters/dev/operator/ks.yaml": flux_kustomization("operator", "./clusters/dev/operator/app"),
    "clusters/dev/operator/app/kustomization.yaml": "resources: [values.yaml]\n",
    "clusters/dev/operator/app/values.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: operator-values\n  namespace: flux-system\n"
        "data:\n  replicas: '2'\n"
    ),
}


def test_the_same_object_from_two_owners_is_planned_under_the_first(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", FLEET)

    state = discover(root / "clusters/dev", DiscoverOptions(repo_root=root, cache=BuildCache.disabled()))

    holders = [o.id for o in state.owners if any(obj.id == VALUES for obj in o.objects)]
    assert holders == [ks("flux-system")]  # the parent comes first in dependency order
    operator = state.owner(ks("operator"))
    assert operator is not None and operator.objects == ()
    (note,) = [d for d in state.diagnostics if d.subject == ks("operator")]
    assert f"{VALUES} is also rendered by {ks('flux-system')}" in note.summary


def test_copies_that_differ_are_planned_as_the_later_one_with_a_warning_naming_both_files(tmp_path: Path) -> None:
    """Flux applies both copies and the one applied later wins (the two owners fight): the
    plan takes the last owner's copy in dependency order and warns, naming both files."""
    files = dict(FLEET)
    files["clusters/dev/operator/ks.yaml"] = flux_kustomization(
        "operator", "./clusters/dev/operator/app", "  targetNamespace: operator\n"
    )  # its copy lands elsewhere: not the same object, so no conflict
    files["clusters/dev/other.yaml"] = flux_kustomization("other", "./other")
    files["other/values.yaml"] = FLEET["clusters/dev/operator/app/values.yaml"].replace("'2'", "'3'")
    root = write_tree(tmp_path / "repo", files)

    state = discover(root / "clusters/dev", DiscoverOptions(repo_root=root, cache=BuildCache.disabled()))

    values = state.objects()[VALUES]
    assert values.owner == ks("other") and values.body["data"] == {"replicas": "3"}  # other is applied last
    (warning,) = [d for d in state.diagnostics if "different content" in d.summary]
    assert warning.subject == ks("flux-system")
    assert "clusters/dev/operator/app/values.yaml and other/values.yaml" in warning.summary
    assert "Kustomization/flux-system/other" in warning.summary and "fight" in warning.summary


def test_the_synthetic_root_yields_to_the_kustomization_that_builds_the_object(tmp_path: Path) -> None:
    """Without a flux-system Kustomization (flux-operator's FluxInstance applies the start
    path), fluxform's stand-in root cannot know that path's postBuild: the app's own
    Kustomization, whose substitution differs, keeps the object."""
    files = dict(FLEET)
    del files["clusters/dev/sync.yaml"]
    substitute = "  postBuild:\n    substitute:\n      replicas: five\n"
    files["clusters/dev/operator/ks.yaml"] = flux_kustomization("operator", "./clusters/dev/operator/app", substitute)
    files["clusters/dev/operator/app/values.yaml"] = FLEET["clusters/dev/operator/app/values.yaml"].replace(
        "'2'", "'${replicas}'"
    )
    root = write_tree(tmp_path / "repo", files)

    state = discover(root / "clusters/dev", DiscoverOptions(repo_root=root, cache=BuildCache.disabled()))

    (holder,) = [o for o in state.owners if any(obj.id == VALUES for obj in o.objects)]
    assert holder.id == ks("operator")
    (values,) = [obj for obj in holder.objects if obj.id == VALUES]
    assert values.body["data"] == {"replicas": "five"}
    synthetic = ks("fluxform-root", "")
    assert any(d.subject == synthetic and "planned under Kustomization/flux-system/operator" in d.summary
               for d in state.diagnostics)  # fmt: skip
