"""helm-controller's drift detection and correction of a deployed release (flux-semantics 5.7;
helm-controller internal/action/diff.go `Diff` and `ApplyDiff`, over fluxcd/pkg
ssa/jsondiff).

Detection, run only when the release is otherwise in sync: every object of the **stored
release manifest** (not a fresh render), with Helm's ownership metadata and the release
namespace where it has none, is server-side applied as a dry run (forced, as the field
manager). An object the cluster lacks is drifted ("create"); otherwise the live object and
the dry-run answer are compared (their labels and annotations for additions and changes
only, everything but `metadata` and `status` fully), and any difference is drifted
("update", with the JSON patch from live to applied). Objects labelled or annotated
`helm.toolkit.fluxcd.io/driftDetection: disabled` are left out, and
`spec.driftDetection.ignore` rules remove their JSON pointers from both sides (a pointer
"" leaves the whole object out).

Correction (`mode: enabled`): created objects are created, drifted ones patched with their
JSON patch, as the field manager; Helm's storage is not touched (no new revision).

    drifts = detect_drift(cluster, mapper, release.manifest, ref.name, ref.namespace, policy.drift, manager)
    correct_drift(cluster, drifts, field_manager=manager)
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import jsonpointer

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.lookup import get_object
from fluxform.cluster.mapping import KindMapping, RestMapper, Unmapped, split_api_version
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import apply, create
from fluxform.errors import ClusterError
from fluxform.helm.policy import DriftIgnoreRule, DriftPolicy
from fluxform.helm.postrender import helm_ownership
from fluxform.helm.sdk import parse_yaml_document

__all__ = ["DRIFT_DETECTION_KEY", "Drift", "correct_drift", "detect_drift", "ignored_paths"]

#: Label or annotation that leaves an object out of drift detection when "disabled".
DRIFT_DETECTION_KEY = "helm.toolkit.fluxcd.io/driftDetection"
JSON_PATCH = "application/json-patch+json"
_DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)
_SELECTOR_TERM = re.compile(r"^\s*([^!=\s]+)\s*(==|=|!=)?\s*(\S*)\s*$")


@dataclass(frozen=True)
class Drift:
    """One release object the cluster no longer matches."""

    ref: ObjectRef
    action: str  # "create" (gone from the cluster) | "update"
    desired: Mapping[str, Any] = field(repr=False)  # the release manifest's object, as Helm sends it
    patch: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)  # JSON patch, live -> as applied

    def __str__(self) -> str:
        if self.action == "create":
            return f"{self.ref} (deleted)"
        fields = sorted({str(op.get("path")) for op in self.patch})
        return f"{self.ref} ({', '.join(fields)})"


def detect_drift(
    cluster: ClusterClient,
    mapper: RestMapper,
    manifest: str,
    release: str,
    namespace: str,
    policy: DriftPolicy,
    field_manager: str,
) -> list[Drift]:
    """The drifted objects of a release manifest (none when nothing drifted)."""
    drifts = []
    for doc in _documents(manifest):
        mapping = mapper.resolve(str(doc.get("apiVersion") or ""), str(doc.get("kind") or ""))
        if isinstance(mapping, Unmapped):
            raise ClusterError(f"drift detection of Helm release {namespace}/{release}: {mapping.reason}")
        desired = _placed(helm_ownership(doc, release, namespace), mapping, namespace)
        if _excluded(desired):
            continue
        paths = ignored_paths(desired, policy.ignore)
        if "" in paths:
            continue
        drift = _compare(cluster, mapping, desired, paths, field_manager)
        if drift is not None:
            drifts.append(drift)
    return drifts


def correct_drift(cluster: ClusterClient, drifts: Sequence[Drift], *, field_manager: str) -> None:
    """Creates what was deleted, patches what changed (helm-controller's ApplyDiff order:
    creations first); every failure named in one ClusterError."""
    failures = []
    for drift in sorted(drifts, key=lambda d: (d.action != "create", str(d.ref))):
        if drift.action == "create":
            written = create(cluster, drift.ref.mapping, drift.desired, field_manager=field_manager)
            if not written.ok:
                failures.append(written.error().one_line())
            continue
        reply = cluster.request(
            "PATCH",
            drift.ref.path,
            query=[("fieldManager", field_manager)],
            body=json.dumps(list(drift.patch)).encode(),
            content_type=JSON_PATCH,
            what=f"correct drift of {drift.ref}",
        )
        if not reply.ok:
            failures.append(reply.failure().error(f"correct drift of {drift.ref}", context=cluster.context).one_line())
    if failures:
        raise ClusterError("correcting drift failed", detail="; ".join(failures))


def ignored_paths(obj: Mapping[str, Any], rules: Sequence[DriftIgnoreRule]) -> list[str]:
    """The JSON pointers the rules whose target selects `obj` ignore (fluxcd/pkg jsondiff
    SelectorRegex: anchored regexes, label and annotation selectors)."""
    paths: list[str] = []
    for rule in rules:
        if rule.target is None or _selects(rule.target, obj):
            paths.extend(rule.paths)
    return paths


# ----- comparing ------------------------------------------------------------------------------


def _compare(
    cluster: ClusterClient, mapping: KindMapping, desired: dict[str, Any], paths: Sequence[str], field_manager: str
) -> Drift | None:
    ref = ObjectRef.of(mapping, desired)
    live = get_object(cluster, ref)
    if live is None:
        return Drift(ref, "create", desired)
    applied = apply(cluster, mapping, desired, field_manager=field_manager, force=True, dry_run=True).unwrap()
    before, after = _without(live, paths), _without(applied, paths)
    patch = _metadata_patch(before, after) + _body_patch(before, after)
    return Drift(ref, "update", desired, tuple(patch)) if patch else None


def _metadata_patch(live: Mapping[str, Any], applied: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Labels and annotations: additions and changes only (controllers add their own)."""

    def picked(obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        return {"metadata": {k: meta[k] for k in ("annotations", "labels") if meta.get(k)}}

    ops: list[dict[str, Any]] = jsonpatch.make_patch(picked(live), picked(applied)).patch
    return [op for op in ops if op.get("op") in ("add", "replace")]


def _body_patch(live: Mapping[str, Any], applied: Mapping[str, Any]) -> list[dict[str, Any]]:
    def body(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if k not in ("metadata", "status")}

    ops: list[dict[str, Any]] = jsonpatch.make_patch(body(live), body(applied)).patch
    return ops


def _without(obj: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    for path in paths:
        try:
            parts = jsonpointer.JsonPointer(path).parts
        except jsonpointer.JsonPointerException:
            continue
        parent: Any = out
        for part in parts[:-1]:
            parent = _child(parent, part)
            if parent is None:
                break
        if isinstance(parent, dict):
            parent.pop(parts[-1], None)
        elif isinstance(parent, list) and parts[-1].isdigit() and int(parts[-1]) < len(parent):
            parent.pop(int(parts[-1]))
    return out


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None


# ----- selecting ------------------------------------------------------------------------------


def _excluded(obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    return any(
        str((meta.get(where) or {}).get(DRIFT_DETECTION_KEY, "")).lower() == "disabled"
        for where in ("labels", "annotations")
    )


def _selects(target: Mapping[str, str], obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    group, version = split_api_version(str(obj.get("apiVersion") or ""))
    fields = {
        "group": group,
        "version": version,
        "kind": str(obj.get("kind") or ""),
        "name": str(meta.get("name") or ""),
        "namespace": str(meta.get("namespace") or ""),
    }
    for key, value in fields.items():
        pattern = target.get(key) or ""
        if pattern and not re.fullmatch(f"(?:{pattern})", value):
            return False
    return _matches(target.get("labelSelector") or "", meta.get("labels") or {}) and _matches(
        target.get("annotationSelector") or "", meta.get("annotations") or {}
    )


def _matches(selector: str, labels: Mapping[str, Any]) -> bool:
    """Equality-based label selector terms (`k=v`, `k==v`, `k!=v`, `k`, `!k`), all required."""
    for term in (t for t in selector.split(",") if t.strip()):
        term = term.strip()
        if term.startswith("!"):
            if term[1:].strip() in labels:
                return False
            continue
        found = _SELECTOR_TERM.match(term)
        if found is None:
            raise ClusterError(f"driftDetection.ignore target selector {selector!r} is not supported")
        key, op, value = found.groups()
        if op is None:
            if key not in labels:
                return False
        elif (str(labels.get(key)) == value and key in labels) != (op in ("=", "==")):
            return False
    return True


# ----- documents ------------------------------------------------------------------------------


def _documents(manifest: str) -> list[dict[str, Any]]:
    return [doc for part in _DOC_SEPARATOR.split(manifest) if part.strip() and (doc := parse_yaml_document(part))]


def _placed(doc: Mapping[str, Any], mapping: KindMapping, namespace: str) -> dict[str, Any]:
    """The release namespace on a namespaced object without one (Helm's placement)."""
    out = dict(doc)
    meta = dict(out.get("metadata") or {})
    if mapping.namespaced and not meta.get("namespace"):
        meta["namespace"] = namespace
    out["metadata"] = meta
    return out
