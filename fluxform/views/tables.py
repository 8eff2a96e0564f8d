"""Plain-text views of a desired state for `fluxform get` and `fluxform build`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.planner.kustomization.spec import SOURCE_KINDS
from fluxform.planner.model import DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import Masking

__all__ = [
    "find_owner",
    "format_table",
    "helm_release_table",
    "kustomization_table",
    "owner_manifests",
    "sources_table",
]

#: Kustomization sources plus the Helm ones.
LISTED_SOURCE_KINDS = SOURCE_KINDS | {"HelmRepository", "HelmChart"}


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _name(owner: Owner) -> str:
    """As `build` takes it: NAMESPACE/NAME (the synthetic root has no namespace)."""
    return f"{owner.id.namespace}/{owner.id.name}" if owner.id.namespace else owner.id.name


def _count(owner: Owner) -> str:
    """Objects rendered: planned ones, or those a remote owner renders for its cluster."""
    if owner.status is OwnerStatus.NOT_PLANNED:
        return "-"
    return str(len(owner.objects) or len(owner.unplanned_objects))


def _reason(owner: Owner) -> str:
    if not owner.reason:
        return "-"
    where = f" ({owner.origin})" if owner.origin is not None and owner.status is OwnerStatus.NOT_PLANNED else ""
    return f"{owner.reason}{where}"


def kustomization_table(state: DesiredState) -> str:
    rows = [
        [
            _name(o),
            o.path,
            o.source or "-",
            ",".join(f"{d.namespace}/{d.name}" for d in o.depends_on) or "-",
            str(o.status),
            _count(o),
            _reason(o),
        ]
        for o in state.owners
        if o.kind in ("Kustomization", "Root")
    ]
    return format_table(["NAME", "PATH", "SOURCE", "DEPENDS ON", "STATUS", "OBJECTS", "REASON"], rows)


def _source_url(body: Mapping[str, Any]) -> str:
    spec = body.get("spec") or {}
    return str(spec.get("url") or spec.get("bucketName") or spec.get("chart") or "-")


def _source_ref(body: Mapping[str, Any]) -> str:
    ref = (body.get("spec") or {}).get("ref") or {}
    if not isinstance(ref, Mapping):
        return "-"
    for key in ("commit", "digest", "tag", "semver", "branch", "name"):
        if ref.get(key):
            return f"{key}:{ref[key]}"
    return "-"


def sources_table(state: DesiredState) -> str:
    users: dict[str, list[str]] = {}
    for owner in state.owners:
        users.setdefault(owner.source, []).append(f"{owner.id.namespace}/{owner.id.name}")
    rows = []
    for owner in state.owners:
        for obj in owner.objects:
            if obj.id.kind not in LISTED_SOURCE_KINDS:
                continue
            key = f"{obj.id.kind}/{obj.id.namespace}/{obj.id.name}"
            rows.append(
                [
                    obj.id.kind,
                    f"{obj.id.namespace}/{obj.id.name}",
                    _source_url(obj.body),
                    _source_ref(obj.body),
                    ",".join(sorted(users.get(key, []))) or "-",
                ]
            )
    rows.sort()
    return format_table(["KIND", "NAME", "URL", "REF", "USED BY"], rows)


def helm_release_table(state: DesiredState) -> str:
    rows = [
        [
            f"{o.id.namespace}/{o.id.name}",
            str(o.details.get("chart") or o.path),
            str(o.details.get("version") or "-"),
            o.source or "-",
            f"{o.details.get('namespace', '-')}/{o.details.get('release', '-')}",
            str(o.details.get("values") or "-"),
            str(o.status),
            _count(o),
            _reason(o),
        ]
        for o in state.owners
        if o.kind == "HelmRelease"
    ]
    headers = ["NAME", "CHART", "VERSION", "SOURCE", "RELEASE", "VALUES", "STATUS", "OBJECTS", "REASON"]
    return format_table(headers, rows)


def find_owner(state: DesiredState, kind: str, name: str, namespace: str) -> Owner:
    """The one owner `build ks|hr` names; `kind` "Kustomization" includes the synthetic root."""
    kinds = ("Kustomization", "Root") if kind == "Kustomization" else (kind,)
    matches = [o for o in state.owners if o.kind in kinds and o.id.name == name and namespace in ("", o.id.namespace)]
    if not matches:
        known = ", ".join(_name(o) for o in state.owners if o.kind in kinds) or "none"
        raise RenderError(f"{kind} {namespace + '/' if namespace else ''}{name} not found", hint=f"known: {known}")
    if len(matches) > 1:
        raise RenderError(f"{kind} {name} exists in several namespaces", hint="give NAMESPACE/NAME, or --namespace")
    return matches[0]


def owner_manifests(owner: Owner, masking: Masking | None) -> str:
    """The owner's objects as multi-document YAML (`masking` None prints plaintext): those
    planned, or those a remote owner, or one waiting for a not planned owner, rendered. An
    owner with nothing rendered is an error saying why."""
    objects = owner.objects or owner.unplanned_objects
    if owner.status is OwnerStatus.SUSPENDED:
        raise RenderError("suspended (spec.suspend: true): Flux builds nothing for it", subject=owner.id)
    if owner.status is OwnerStatus.NOT_PLANNED and not objects:
        raise RenderError(f"not planned: {owner.reason}", subject=owner.id, location=owner.origin)
    shown = [dict(o.body) if masking is None else masking(o.body, o.sensitive_paths) for o in objects]
    return yamlio.dump_all(shown, sort_keys=False) if shown else ""
