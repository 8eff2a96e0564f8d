"""kustomize-controller's per-resource steps after the build (flux-semantics 1.1 step 6-8, 2, 4.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.planner.kustomization.postbuild import (
    PostBuildContext,
    VariablesPending,
    finalize_kustomization,
    split_documents,
)
from fluxform.planner.kustomization.spec import FluxKustomization


def _ks(**spec: Any) -> FluxKustomization:
    return FluxKustomization.from_doc(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                "path": "./apps",
                "interval": "10m",
                "prune": True,
                **spec,
            },
        }
    )


def _objects(lookup: Mapping[tuple[str, str, str], Mapping[str, Any]] | None = None) -> PostBuildContext:
    table = lookup or {}
    return PostBuildContext(lambda kind, ns, name: table.get((kind, ns, name)), strict=True)


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: apps\ndata:\n  replicas: ${n}\n"
DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\n"
    "spec:\n  replicas: ${n}\n  template:\n    spec:\n      containers:\n      - name: w\n        ports:\n"
    "        - containerPort: 80\n"
)


def test_split_documents_on_bare_separator_lines() -> None:
    assert split_documents("a: 1\n---\nb: 2\n---\n") == ["a: 1\n", "b: 2\n"]


def test_owner_labels_are_added_to_every_object() -> None:
    objects, _ = finalize_kustomization(_ks(), CONFIGMAP.replace("${n}", "'1'"), _objects())
    labels = objects[0].body["metadata"]["labels"]
    assert labels == {
        "kustomize.toolkit.fluxcd.io/name": "apps",
        "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
    }


def test_common_metadata_sets_labels_and_annotations_but_owner_labels_win() -> None:
    ks = _ks(
        commonMetadata={
            "labels": {"team": "blue", "kustomize.toolkit.fluxcd.io/name": "spoofed"},
            "annotations": {"owner": "sre"},
        }
    )
    objects, _ = finalize_kustomization(ks, DEPLOY.replace("${n}", "2"), _objects())
    meta = objects[0].body["metadata"]
    assert meta["labels"]["team"] == "blue"
    assert meta["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"
    assert meta["annotations"] == {"owner": "sre"}
    # commonMetadata is not kustomize commonLabels: selectors and templates are untouched
    assert "labels" not in (objects[0].body["spec"]["template"].get("metadata") or {})


def test_unquoted_variable_becomes_an_int_textual_substitution() -> None:
    ks = _ks(postBuild={"substitute": {"n": "3"}})
    objects, _ = finalize_kustomization(ks, DEPLOY, _objects())
    assert objects[0].body["spec"]["replicas"] == 3


def test_substitute_from_configmap_and_secret_inline_wins() -> None:
    ks = _ks(
        postBuild={
            "substitute": {"n": "5"},
            "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}, {"kind": "Secret", "name": "secret-vars"}],
        }
    )
    lookup = {
        ("ConfigMap", "flux-system", "vars"): {"data": {"n": "1", "region": "eu"}},
        ("Secret", "flux-system", "secret-vars"): {"data": {"region": "dXMtZWFzdA=="}},  # us-east
    }
    text = (
        DEPLOY
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\n  namespace: apps\ndata:\n  r: ${region}\n"
    )
    objects, _ = finalize_kustomization(ks, text, _objects(lookup))
    assert objects[0].body["spec"]["replicas"] == 5
    assert objects[1].body["data"]["r"] == "us-east"


def test_missing_substitute_from_object_is_pending_unless_optional() -> None:
    ks = _ks(postBuild={"substituteFrom": [{"kind": "ConfigMap", "name": "later"}]})
    with pytest.raises(VariablesPending):
        finalize_kustomization(ks, DEPLOY, _objects())
    optional = _ks(
        postBuild={"substitute": {"n": "1"}, "substituteFrom": [{"kind": "ConfigMap", "name": "x", "optional": True}]}
    )
    objects, _ = finalize_kustomization(optional, DEPLOY, _objects())
    assert objects[0].body["spec"]["replicas"] == 1


def test_substitution_disabled_by_annotation_keeps_literal() -> None:
    text = CONFIGMAP.replace(
        "  namespace: apps\n",
        "  namespace: apps\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n",
    )
    objects, _ = finalize_kustomization(_ks(postBuild={"substitute": {"n": "1"}}), text, _objects())
    assert objects[0].body["data"]["replicas"] == "${n}"


def test_with_variables_strategy_and_no_vars_leaves_defaults_literal() -> None:
    text = CONFIGMAP.replace("${n}", "${n:=7}")
    objects, _ = finalize_kustomization(_ks(postBuild={}), text, _objects())
    assert objects[0].body["data"]["replicas"] == "${n:=7}"
    always, _ = finalize_kustomization(_ks(postBuild={"substituteStrategy": "Always"}), text, _objects())
    assert always[0].body["data"]["replicas"] == 7


def test_strict_undefined_variable_names_object_and_kustomization() -> None:
    with pytest.raises(RenderError) as info:
        finalize_kustomization(_ks(postBuild={"substitute": {"other": "x"}}), CONFIGMAP, _objects())
    line = info.value.one_line()
    assert line.startswith("Kustomization/flux-system/apps: ConfigMap/apps/cfg: envsubst error")
    assert 'variable not set (strict mode): "n"' in line


def test_normalisation_defaults_container_port_protocol() -> None:
    objects, _ = finalize_kustomization(_ks(), DEPLOY.replace("${n}", "1"), _objects())
    port = objects[0].body["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    assert port == {"containerPort": 80, "protocol": "TCP"}


@pytest.mark.parametrize("missing", ["apiVersion", "kind", "metadata.name"])
def test_resource_without_identity_is_rejected(missing: str) -> None:
    doc = yamlio.load(CONFIGMAP.replace("${n}", "'1'"))
    if missing == "metadata.name":
        del doc["metadata"]["name"]
    else:
        del doc[missing]
    with pytest.raises(RenderError, match=re.escape(f"resource has no {missing}")):
        finalize_kustomization(_ks(), yamlio.dump(doc), _objects())


def test_sops_data_without_decryption_is_a_warning_not_decrypted() -> None:
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: apps\n"
        "stringData:\n  a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n"
        "sops:\n  mac: ENC[AES256_GCM,data:m,iv:i,tag:t,type:str]\n"
    )
    objects, diagnostics = finalize_kustomization(_ks(), secret, _objects())
    # a v1 Secret still carrying `sops`: Flux refuses the whole apply (decryptor safety net)
    assert "is SOPS-encrypted but the Kustomization has no spec.decryption: Flux refuses to apply it" in (
        diagnostics[0].summary
    )
    assert "sops" in objects[0].body
