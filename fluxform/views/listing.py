"""What `fluxform get` lists, as one documented, stable document (`-o json|yaml`); the tables
(`views/tables.py`) are built from the same items, so the formats agree.

The shape (JSON Schema in docs/get.schema.json, described in docs/output.md); a minor
`format_version` adds fields, a major one changes them:

    {"kind": "fluxform-get", "format_version": "1.0", "type": "kustomizations|helmreleases|sources",
     "source_revision": "sha256:...",
     "items": [Kustomization: {"id", "inventory_id", "kind", "namespace", "name", "name_as_given",
                               "path", "source", "depends_on", "parent", "status", "objects",
                               "reason", "file", "target_namespace", "suspend"}
               HelmRelease:   {... "chart", "version", "source", "release": {"namespace", "name"},
                               "values", ...}
               source:        {"kind", "namespace", "name", "name_as_given", "url", "ref", "used_by"}]}

`name_as_given` is what `build ks|hr` takes (NAMESPACE/NAME); `objects` is null for an owner
that was not planned; `reason` and `file` are "" when there is none.

    document = listing_document("kustomizations", kustomization_items(state), state)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fluxform.planner.kustomization.spec import SOURCE_KINDS
from fluxform.planner.model import DesiredState, Owner, OwnerStatus

__all__ = [
    "FORMAT_VERSION",
    "LISTED_SOURCE_KINDS",
    "helm_release_items",
    "kustomization_items",
    "listing_document",
    "owner_name",
    "source_items",
]

FORMAT_VERSION = "1.0"

#: Kustomization sources plus the Helm ones.
LISTED_SOURCE_KINDS = SOURCE_KINDS | {"HelmRepository", "HelmChart"}


def owner_name(owner: Owner) -> str:
    """As `build` takes it: NAMESPACE/NAME (the synthetic root has no namespace)."""
    return f"{owner.id.namespace}/{owner.id.name}" if owner.id.namespace else owner.id.name


def _objects(owner: Owner) -> int | None:
    """Objects rendered: planned ones, or those a remote owner renders for its cluster."""
    if owner.status is OwnerStatus.NOT_PLANNED:
        return None
    return len(owner.objects) or len(owner.unplanned_objects)


def _common(owner: Owner) -> dict[str, Any]:
    return {
        "id": str(owner.id),
        "inventory_id": owner.id.inventory_id(),
        "kind": owner.kind,
        "namespace": owner.id.namespace,
        "name": owner.id.name,
        "name_as_given": owner_name(owner),
        "source": owner.source,
        "depends_on": [f"{d.namespace}/{d.name}" for d in owner.depends_on],
        "parent": str(owner.parent) if owner.parent is not None else "",
        "status": str(owner.status),
        "objects": _objects(owner),
        "reason": owner.reason,
        "file": owner.origin.path if owner.origin is not None else "",
    }


def kustomization_items(state: DesiredState) -> list[dict[str, Any]]:
    """Kustomizations (and the synthetic root), in apply order."""
    return [
        {
            **_common(o),
            "path": o.path,
            "target_namespace": str(o.details.get("targetNamespace") or ""),
            "suspend": bool(o.details.get("suspend")) or o.status is OwnerStatus.SUSPENDED,
        }
        for o in state.owners
        if o.kind in ("Kustomization", "Root")
    ]


def helm_release_items(state: DesiredState) -> list[dict[str, Any]]:
    """HelmReleases, in apply order; chart facts are "" when it was not rendered."""
    items = []
    for o in state.owners:
        if o.kind != "HelmRelease":
            continue
        values = o.details.get("values") or ()
        items.append(
            {
                **_common(o),
                "chart": str(o.details.get("chart") or o.path),
                "version": str(o.details.get("version") or ""),
                "release": {
                    "namespace": str(o.details.get("namespace") or ""),
                    "name": str(o.details.get("release") or ""),
                },
                "values": [str(v) for v in values] if not isinstance(values, str) else [values],
                "suspend": o.status is OwnerStatus.SUSPENDED,
            }
        )
    return items


def _source_url(body: Mapping[str, Any]) -> str:
    spec = body.get("spec") or {}
    return str(spec.get("url") or spec.get("bucketName") or spec.get("chart") or "")


def _source_ref(body: Mapping[str, Any]) -> str:
    ref = (body.get("spec") or {}).get("ref") or {}
    if not isinstance(ref, Mapping):
        return ""
    for key in ("commit", "digest", "tag", "semver", "branch", "name"):
        if ref.get(key):
            return f"{key}:{ref[key]}"
    return ""


def source_items(state: DesiredState) -> list[dict[str, Any]]:
    """Flux sources the fleet defines, sorted by kind and name, with the owners using them."""
    users: dict[str, list[str]] = {}
    for owner in state.owners:
        users.setdefault(owner.source, []).append(owner_name(owner))
    items = []
    for owner in state.owners:
        for obj in owner.objects:
            if obj.id.kind not in LISTED_SOURCE_KINDS:
                continue
            key = f"{obj.id.kind}/{obj.id.namespace}/{obj.id.name}"
            items.append(
                {
                    "kind": obj.id.kind,
                    "namespace": obj.id.namespace,
                    "name": obj.id.name,
                    "name_as_given": f"{obj.id.namespace}/{obj.id.name}",
                    "url": _source_url(obj.body),
                    "ref": _source_ref(obj.body),
                    "used_by": sorted(users.get(key, [])),
                }
            )
    return sorted(items, key=lambda i: (i["kind"], i["namespace"], i["name"]))


def listing_document(kind: str, items: Sequence[Mapping[str, Any]], state: DesiredState) -> dict[str, Any]:
    """The document `get -o json|yaml` prints."""
    return {
        "kind": "fluxform-get",
        "format_version": FORMAT_VERSION,
        "type": kind,
        "source_revision": state.source_revision,
        "items": [dict(i) for i in items],
    }
