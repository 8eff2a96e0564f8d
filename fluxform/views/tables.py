"""Plain-text views of a desired state for `fluxform get` (tables) and `fluxform build`.

Tables are built from `views/listing.py`'s items (what `-o json|yaml` prints), so the formats
agree. The default table fits `TABLE_WIDTH` columns: it shows the columns people scan, and
cuts the free-text ones (reasons, URLs) with "..."; `wide` adds every other column, uncut.

    print(kustomization_table(state, wide=False))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.planner.model import DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import Masking
from fluxform.views.listing import helm_release_items, kustomization_items, owner_name, source_items

__all__ = [
    "TABLE_WIDTH",
    "find_owner",
    "format_table",
    "helm_release_table",
    "kustomization_table",
    "owner_manifests",
    "sources_table",
]

#: columns a default table fits in (`-o wide` does not cut)
TABLE_WIDTH = 100
_CUT = "..."
_GAP = 2


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int = 0, elastic: Sequence[int] = ()
) -> str:
    """Aligned columns; with `width`, the `elastic` columns (indexes) are cut so each line
    fits: always the widest of them first, never below its header."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    excess = sum(widths) + _GAP * (len(widths) - 1) - width if width else 0
    floors = {i: max(len(headers[i]), len(_CUT) + 1) for i in elastic}
    while excess > 0:
        cuttable = [i for i in elastic if widths[i] > floors[i]]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: (widths[i], -i))
        widths[widest] -= 1
        excess -= 1
    lines = [_line(headers, widths), *(_line(row, widths) for row in rows)]
    return "\n".join(lines) + "\n"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    fitted = [c if len(c) <= w else c[: w - len(_CUT)] + _CUT for c, w in zip(cells, widths, strict=True)]
    return (" " * _GAP).join(c.ljust(w) for c, w in zip(fitted, widths, strict=True)).rstrip()


@dataclass(frozen=True)
class _Column:
    header: str
    cell: str  # item key, or a name _cell knows
    wide_only: bool = False
    elastic: bool = False  # cut to fit the default width


def _cell(item: Mapping[str, Any], key: str) -> str:
    if key == "objects":
        return "-" if item["objects"] is None else str(item["objects"])
    if key == "reason":
        where = f" ({item['file']})" if item["file"] and item["status"] == str(OwnerStatus.NOT_PLANNED) else ""
        return f"{item['reason']}{where}" if item["reason"] else "-"
    if key == "release":
        release = item["release"]
        return f"{release['namespace'] or '-'}/{release['name'] or '-'}"
    value = item[key]
    if isinstance(value, list):
        return (", " if key == "values" else ",").join(value) or "-"
    return str(value) if value not in ("", None) else "-"


def _table(columns: Sequence[_Column], items: Sequence[Mapping[str, Any]], wide: bool) -> str:
    shown = [c for c in columns if wide or not c.wide_only]
    rows = [[_cell(item, c.cell) for c in shown] for item in items]
    elastic = [i for i, c in enumerate(shown) if c.elastic] if not wide else []
    return format_table([c.header for c in shown], rows, width=0 if wide else TABLE_WIDTH, elastic=elastic)


_KUSTOMIZATION_COLUMNS = (
    _Column("NAME", "name_as_given"),
    _Column("PATH", "path", elastic=True),
    _Column("SOURCE", "source", wide_only=True),
    _Column("DEPENDS ON", "depends_on", wide_only=True),
    _Column("STATUS", "status"),
    _Column("OBJECTS", "objects"),
    _Column("REASON", "reason", elastic=True),
)

_HELM_RELEASE_COLUMNS = (
    _Column("NAME", "name_as_given"),
    _Column("CHART", "chart", elastic=True),
    _Column("VERSION", "version"),
    _Column("SOURCE", "source", wide_only=True),
    _Column("RELEASE", "release", wide_only=True),
    _Column("VALUES", "values", wide_only=True),
    _Column("STATUS", "status"),
    _Column("OBJECTS", "objects"),
    _Column("REASON", "reason", elastic=True),
)

_SOURCE_COLUMNS = (
    _Column("KIND", "kind"),
    _Column("NAME", "name_as_given"),
    _Column("URL", "url", elastic=True),
    _Column("REF", "ref", elastic=True),
    _Column("USED BY", "used_by", elastic=True),
)


def kustomization_table(state: DesiredState, *, wide: bool = False) -> str:
    return _table(_KUSTOMIZATION_COLUMNS, kustomization_items(state), wide)


def helm_release_table(state: DesiredState, *, wide: bool = False) -> str:
    return _table(_HELM_RELEASE_COLUMNS, helm_release_items(state), wide)


def sources_table(state: DesiredState, *, wide: bool = False) -> str:
    return _table(_SOURCE_COLUMNS, source_items(state), wide)


def find_owner(state: DesiredState, kind: str, name: str, namespace: str) -> Owner:
    """The one owner `build ks|hr` names; `kind` "Kustomization" includes the synthetic root."""
    kinds = ("Kustomization", "Root") if kind == "Kustomization" else (kind,)
    matches = [o for o in state.owners if o.kind in kinds and o.id.name == name and namespace in ("", o.id.namespace)]
    if not matches:
        known = ", ".join(owner_name(o) for o in state.owners if o.kind in kinds) or "none"
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
