"""Plain-text views of a desired state for `fluxform get` and `fluxform build`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.planner.kustomization.spec import SOURCE_KINDS
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Masking

__all__ = ["format_table", "helm_release_table", "kustomization_table", "owner_manifests", "sources_table"]

#: Kustomization sources plus the Helm ones.
LISTED_SOURCE_KINDS = SOURCE_KINDS | {"HelmRepository", "HelmChart"}


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def kustomization_table(state: DesiredState) -> str:
    rows = [
        [
            f"{o.id.namespace}/{o.id.name}" if o.id.namespace else o.id.name,
            o.path,
            o.source,
            ",".join(f"{d.namespace}/{d.name}" for d in o.depends_on) or "-",
            str(o.status),
            str(len(o.objects)),
        ]
        for o in state.owners
        if o.kind in ("Kustomization", "Root")
    ]
    return format_table(["NAME", "PATH", "SOURCE", "DEPENDS ON", "STATUS", "OBJECTS"], rows)


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
            str(len(o.objects)),
        ]
        for o in state.owners
        if o.kind == "HelmRelease"
    ]
    return format_table(["NAME", "CHART", "VERSION", "SOURCE", "RELEASE", "VALUES", "STATUS", "OBJECTS"], rows)


def owner_manifests(
    state: DesiredState,
    kind: str,
    name: str,
    namespace: str,
    masking: Masking | None,
) -> str:
    """The owner's objects as multi-document YAML; `masking` None prints plaintext."""
    matches = [o for o in state.owners if o.kind == kind and o.id.name == name and namespace in ("", o.id.namespace)]
    if not matches:
        known = ", ".join(f"{o.id.namespace}/{o.id.name}" for o in state.owners if o.kind == kind) or "none"
        raise RenderError(f"{kind} {namespace + '/' if namespace else ''}{name} not found", hint=f"known: {known}")
    if len(matches) > 1:
        raise RenderError(f"{kind} {name} exists in several namespaces", hint="pass --namespace")
    objects = [dict(o.body) if masking is None else masking(o.body, o.sensitive_paths) for o in matches[0].objects]
    return yamlio.dump_all(objects, sort_keys=False) if objects else ""
