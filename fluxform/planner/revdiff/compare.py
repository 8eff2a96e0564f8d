"""What merging a change does to the desired state: base revision vs head revision.

Pairing follows Flux's per-Kustomization inventory: an object is matched by (owner, id).
An object that changes owner (a renamed Kustomization or directory) is pruned by the old
owner and created by the new one, as Flux would do it, so the reviewer sees the deletion.
Objects removed from an owner are deleted when it prunes (else left in the cluster and
only forgotten); a suspended owner's objects are left alone, as Flux leaves them. Every
body is masked before comparison, so Secret values only ever appear as fingerprints.

    cluster = diff_states("clusters/staging", base_state, head_state, masking)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fluxform.errors import Diagnostic
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import Action, Change, Masking, removal_action

__all__ = [
    "DIFF_FORMAT_VERSION",
    "ClusterDiff",
    "ClusterStatus",
    "FleetDiff",
    "OwnerDiff",
    "OwnerStatusChange",
    "Revision",
    "count_changes",
    "diff_states",
]

DIFF_FORMAT_VERSION = "1.0"


class OwnerStatusChange(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    #: not rendered at one revision at least (not planned, or remote): what the change does to
    #: it is unknown, so it is never reported as unchanged (the diff is partial)
    NOT_COMPARED = "not compared"


class ClusterStatus(StrEnum):
    ADDED = "added"  # the cluster path exists only at head
    REMOVED = "removed"  # only at base
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    PARTIAL = "partial"  # no change in what was compared, but some owners were not compared


@dataclass(frozen=True)
class OwnerDiff:
    id: ObjectId
    kind: str  # Kustomization | HelmRelease | Root
    status: OwnerStatusChange
    path: str  # spec.path or chart, at head (at base when removed)
    note: str = ""  # e.g. why its objects are not compared
    changes: tuple[Change, ...] = ()  # non-no-op only, sorted by action then id
    unchanged: int = 0  # objects present and equal on both sides
    left_out: Owner | None = None  # not compared: the owner not planned (at head, else at base)
    parent: ObjectId | None = None  # the owner whose build applies its Flux object (at head, else base)
    depends_on: tuple[ObjectId, ...] = ()  # its spec.dependsOn (at head, else base)


@dataclass(frozen=True)
class ClusterDiff:
    path: str  # cluster path relative to the repository top
    status: ClusterStatus
    owners: tuple[OwnerDiff, ...] = ()  # every owner of either side, head order then removed ones
    rendered: bool = True  # False: changed-only found nothing it depends on changed
    diagnostics: tuple[Diagnostic, ...] = ()

    def changes(self) -> Iterator[Change]:
        for owner in self.owners:
            yield from owner.changes

    def not_compared(self) -> tuple[OwnerDiff, ...]:
        return tuple(o for o in self.owners if o.status is OwnerStatusChange.NOT_COMPARED)


@dataclass(frozen=True)
class Revision:
    name: str  # as the user wrote it (e.g. origin/main)
    commit: str  # full commit id


@dataclass(frozen=True)
class FleetDiff:
    base: Revision
    head: Revision
    mode: str  # "full" | "changed-only"
    changed_files: tuple[str, ...]
    clusters: tuple[ClusterDiff, ...]
    format_version: str = DIFF_FORMAT_VERSION
    timings: Mapping[str, float] = field(default_factory=dict, compare=False)  # for --timings; never rendered

    def counts(self) -> dict[str, int]:
        return count_changes(c for cluster in self.clusters for c in cluster.changes())

    def has_changes(self) -> bool:
        return any(True for cluster in self.clusters for _ in cluster.changes())

    def not_compared(self) -> tuple[OwnerDiff, ...]:
        """Owners not rendered at both revisions, in every cluster: the diff is partial."""
        return tuple(o for cluster in self.clusters for o in cluster.not_compared())


def count_changes(changes: Iterator[Change] | Sequence[Change]) -> dict[str, int]:
    """Counts keyed like the plan summary (add, change, destroy, forget) so `summary_line` reads them."""
    counts = {"add": 0, "change": 0, "destroy": 0, "forget": 0}
    key = {Action.CREATE: "add", Action.UPDATE: "change", Action.DELETE: "destroy", Action.FORGET: "forget"}
    for change in changes:
        if change.action in key:
            counts[key[change.action]] += 1
    return counts


def _removal(obj: DesiredObject, masked: dict[str, Any], owner: Owner, why: str) -> Change:
    """What Flux does with an object the owner no longer renders (or the owner itself went)."""
    action, reason = removal_action(masked, prune=owner.prune, owner=owner.id, why=why)
    return Change(obj.id, obj.api_version, owner.id, action, masked, None, reason)


def _masked(owner: Owner | None, masking: Masking) -> dict[ObjectId, tuple[DesiredObject, dict[str, Any]]]:
    if owner is None or owner.status is not OwnerStatus.BUILT:
        return {}
    return {o.id: (o, masking(o.body, o.sensitive_paths)) for o in owner.objects}


def _owner_diff(
    base: Owner | None,
    head: Owner | None,
    masking: Masking,
    owners_of: tuple[Mapping[ObjectId, ObjectId], Mapping[ObjectId, ObjectId]],
) -> OwnerDiff:
    current = head or base
    assert current is not None
    status = OwnerStatusChange.ADDED if base is None else OwnerStatusChange.REMOVED if head is None else None
    note = _status_note(base, head)
    if _skipped(base) or _skipped(head):
        left_out = head if _skipped(head) else base
        return OwnerDiff(
            current.id, current.kind, OwnerStatusChange.NOT_COMPARED, current.path, note, left_out=left_out
        )
    if note and base is not None and head is not None:
        return OwnerDiff(current.id, current.kind, OwnerStatusChange.UNCHANGED, current.path, note)
    before, after = _masked(base, masking), _masked(head, masking)
    base_owner_of, head_owner_of = owners_of
    changes: list[Change] = []
    unchanged = 0
    for oid, (obj, body) in after.items():
        if oid not in before:
            moved = base_owner_of.get(oid)
            reason = f"moves from {moved}" if moved is not None and moved != current.id else ""
            changes.append(Change(oid, obj.api_version, current.id, Action.CREATE, None, body, reason))
        elif before[oid][1] != body:
            changes.append(Change(oid, obj.api_version, current.id, Action.UPDATE, before[oid][1], body))
        else:
            unchanged += 1
    for oid, (obj, body) in before.items():
        if oid not in after:
            target = head_owner_of.get(oid)
            why = f"moves to {target}" if target is not None and target != current.id else "no longer rendered"
            if head is None:
                why = f"{current.id} itself was removed" if target is None else why
            changes.append(_removal(obj, body, current, why))
    changes.sort(key=lambda c: (_ACTION_ORDER[c.action], c.id))
    if status is None:
        status = OwnerStatusChange.CHANGED if changes else OwnerStatusChange.UNCHANGED
    return OwnerDiff(current.id, current.kind, status, current.path, note, tuple(changes), unchanged)


_ACTION_ORDER = {Action.CREATE: 0, Action.UPDATE: 1, Action.REPLACE: 2, Action.DELETE: 3, Action.FORGET: 4}


def _skipped(owner: Owner | None) -> bool:
    return owner is not None and not owner.status.planned


def _status_note(base: Owner | None, head: Owner | None) -> str:
    for side, owner in (("head", head), ("base", base)):
        if _skipped(owner):
            assert owner is not None
            where = f" ({owner.origin.path})" if owner.origin is not None else ""
            return f"not compared: {owner.status} at {side}{where}: {owner.reason}"
    if head is not None and head.status is not OwnerStatus.BUILT:
        return f"{head.status} at head: Flux leaves its objects alone"
    if base is not None and base.status is not OwnerStatus.BUILT:
        return f"{base.status} at base: its objects were not rendered there, so they are not compared"
    return ""


def _owner_map(state: DesiredState | None) -> dict[ObjectId, ObjectId]:
    if state is None:
        return {}
    return {obj.id: owner.id for owner in state.owners for obj in owner.objects}


def diff_states(
    path: str,
    base: DesiredState | None,
    head: DesiredState | None,
    masking: Masking,
    *,
    only: frozenset[ObjectId] | None = None,
) -> ClusterDiff:
    """Compare two renders of one cluster path (None: the path does not exist on that side).

    `only` restricts the comparison to those owners (changed-only mode: the others are
    known to be equal on both sides); owners outside it are counted as unchanged."""
    base_owners = {o.id: o for o in base.owners} if base is not None else {}
    head_owners = {o.id: o for o in head.owners} if head is not None else {}
    order = [o.id for o in head.owners] if head is not None else []
    order += [oid for oid in (o.id for o in base.owners) if oid not in head_owners] if base is not None else []
    owners_of = (_owner_map(base), _owner_map(head))
    diffs = []
    for oid in order:
        if only is not None and oid not in only:
            current = head_owners.get(oid) or base_owners[oid]
            pair = (base_owners.get(oid), head_owners.get(oid))
            note = _status_note(*pair)  # suspended, not planned: as compared
            count = 0 if note else len(current.objects)
            left_out = pair[1] if _skipped(pair[1]) else pair[0] if _skipped(pair[0]) else None
            kept = OwnerStatusChange.UNCHANGED if left_out is None else OwnerStatusChange.NOT_COMPARED
            diffs.append(OwnerDiff(oid, current.kind, kept, current.path, note, unchanged=count, left_out=left_out))
            continue
        diffs.append(_owner_diff(base_owners.get(oid), head_owners.get(oid), masking, owners_of))
    for index, owner_diff in enumerate(diffs):  # its place in the owner graph, as it is at head (else base)
        current = head_owners.get(owner_diff.id) or base_owners[owner_diff.id]
        diffs[index] = replace(owner_diff, parent=current.parent, depends_on=tuple(current.depends_on))
    status = ClusterStatus.ADDED if base is None else ClusterStatus.REMOVED if head is None else None
    if status is None and any(d.changes for d in diffs):
        status = ClusterStatus.CHANGED
    elif status is None:
        partial = any(d.status is OwnerStatusChange.NOT_COMPARED for d in diffs)
        status = ClusterStatus.PARTIAL if partial else ClusterStatus.UNCHANGED
    diagnostics = tuple(head.diagnostics) if head is not None else ()
    return ClusterDiff(path, status, tuple(diffs), True, diagnostics)
