"""helm-controller's post-renderer chain (internal/postrender), in its fixed order:

1. each `spec.postRenderers[].kustomize` (patches + images), one kustomize build each;
2. `spec.commonMetadata` labels then annotations, on `metadata` only;
3. origin labels `helm.toolkit.fluxcd.io/name` and `/namespace` (win over commonMetadata).

Flux runs kustomize in-process on an in-memory filesystem; here the real kustomize builds a
private temp dir (0700, removed afterwards) holding the rendered objects, which may include
Secrets, and a kustomization.yaml with the patches and images.

    docs = post_render(docs, hr)
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fluxform import yamlio
from fluxform.decrypt.tmpfs import private_tmpfs_dir
from fluxform.errors import RenderError
from fluxform.helm.sdk import parse_yaml_document
from fluxform.helm.spec import HELM_GROUP, HelmReleaseSpec, KustomizePostRenderer
from fluxform.kustomize.engine import kustomize_build

__all__ = ["apply_metadata", "helm_ownership", "origin_labels", "post_render"]

#: What Helm sets on every object of a release as it applies it (pkg/action/validate.go
#: setMetadataVisitor), after post-rendering: not in the stored release manifest.
HELM_MANAGED_BY = ("app.kubernetes.io/managed-by", "Helm")
HELM_RELEASE_NAME, HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-name", "meta.helm.sh/release-namespace"

_SELECTOR_KEYS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")
_IMAGE_KEYS = ("name", "newName", "newTag", "digest")
_INPUT = "helm-output.yaml"
_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def origin_labels(hr: HelmReleaseSpec) -> dict[str, str]:
    return {f"{HELM_GROUP}/name": hr.name, f"{HELM_GROUP}/namespace": hr.namespace}


def post_render(docs: Sequence[Mapping[str, Any]], hr: HelmReleaseSpec) -> list[dict[str, Any]]:
    """The whole chain over copies of `docs` (the input is never changed)."""
    out = [copy.deepcopy(dict(doc)) for doc in docs]
    for renderer in hr.post_renderers:
        out = _kustomize(out, renderer, hr)
    for doc in out:
        apply_metadata(doc, labels=hr.common_labels, annotations=hr.common_annotations)
        apply_metadata(doc, labels=origin_labels(hr))
    return out


def helm_ownership(doc: Mapping[str, Any], release: str, namespace: str) -> dict[str, Any]:
    """A copy of `doc` as Helm sends it to the API server: labelled managed-by Helm and
    annotated with its release name and namespace (existing values overwritten)."""
    out = copy.deepcopy(dict(doc))
    apply_metadata(
        out,
        labels=dict([HELM_MANAGED_BY]),
        annotations={HELM_RELEASE_NAME: release, HELM_RELEASE_NAMESPACE: namespace},
    )
    return out


def apply_metadata(doc: dict[str, Any], *, labels: Mapping[str, str] = {}, annotations: Mapping[str, str] = {}) -> None:
    """kustomize's label/annotation transformers with FieldSpec `metadata/<field>`, create."""
    for field, values in (("labels", labels), ("annotations", annotations)):
        if not values:
            continue
        meta = doc.setdefault("metadata", {})
        current = meta.get(field)
        meta[field] = {**(current if isinstance(current, Mapping) else {}), **values}


def _kustomize(
    docs: list[dict[str, Any]], renderer: KustomizePostRenderer, hr: HelmReleaseSpec
) -> list[dict[str, Any]]:
    if not docs:
        return docs
    # the rendered documents may hold values decrypted from valuesFrom Secrets: RAM only
    with private_tmpfs_dir() as work:
        # JSON is YAML: exact, and much faster to write than block YAML
        (work / _INPUT).write_text("\n---\n".join(json.dumps(doc) for doc in docs))
        (work / "kustomization.yaml").write_text(yamlio.dump(_kustomization(renderer), sort_keys=False))
        try:
            text = kustomize_build(work, paths={work: ""})
        except RenderError as exc:
            raise RenderError(
                "postRenderers kustomize failed", detail=exc.detail, subject=hr.id, location=hr.origin
            ) from None
    return [doc for part in _DOC_SEPARATOR.split(text) if part.strip() and (doc := parse_yaml_document(part))]


def _kustomization(renderer: KustomizePostRenderer) -> dict[str, Any]:
    """What Flux's postrender.Kustomize.Run builds: resources + images + patches."""
    spec: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [_INPUT],
    }
    images = [{k: image[k] for k in _IMAGE_KEYS if image.get(k)} for image in renderer.images]
    if images:
        spec["images"] = images
    patches = []
    for patch in renderer.patches:
        entry: dict[str, Any] = {"patch": patch["patch"]}
        target = patch.get("target")
        if isinstance(target, Mapping):
            entry["target"] = {k: target[k] for k in _SELECTOR_KEYS if target.get(k)}
        patches.append(entry)
    if patches:
        spec["patches"] = patches
    return spec
