"""Per-owner isolation: an owner that cannot be planned takes only its dependants with it.

Flux reconciles every Kustomization and HelmRelease on its own: one that fails leaves the
others alone, except those that wait for it. Those are: its children (the Flux objects
only its apply creates or updates), its `dependsOn` dependants, and the owners that look up
an object only it produces (substituteFrom, valuesFrom, a chart source). Each of them is
planned as "not planned: depends on X", with X's cause, so a `--missing-* warn` flag that
accepts X accepts them too; nothing else in the fleet is touched.

    owners = isolate(ordered_owners, Links(lookups, missing, would_produce))

The same rule keeps a plan from pruning what it could not see: an owner the state recorded
but this render lacks, because the owner that applies it was not rendered (or is
suspended), comes back as not planned (or suspended) instead of "removed"
(`recorded_dependants`), so its objects are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from fluxform.objects import ObjectId
from fluxform.planner.model import Cause, Owner, OwnerStatus
from fluxform.state.model import OwnerState

__all__ = ["Links", "ObjectKey", "isolate", "key_of", "not_planned", "recorded_dependants"]

#: (kind, namespace, name) of an object, as lookups name it (no group, as Flux's lookups)
ObjectKey = tuple[str, str, str]


def key_of(oid: ObjectId) -> ObjectKey:
    return (oid.kind, oid.namespace, oid.name)


@dataclass(frozen=True)
class Links:
    """What each owner's render needed from other owners, beyond parent and dependsOn."""

    lookups: Mapping[ObjectId, frozenset[ObjectKey]] = field(default_factory=dict)  # objects it read
    missing: Mapping[ObjectId, ObjectKey] = field(default_factory=dict)  # what a not planned one waited for
    #: objects owners that were not rendered would have produced (from their raw build)
    would_produce: Mapping[ObjectKey, ObjectId] = field(default_factory=dict)
    #: owners made not planned because of another (children of a failed build): that one
    blocked_by: Mapping[ObjectId, ObjectId] = field(default_factory=dict)


def not_planned(owner: Owner, reason: str, cause: Cause) -> Owner:
    """`owner` as not planned: what it rendered is kept aside (for `build`), never planned."""
    return replace(
        owner,
        status=OwnerStatus.NOT_PLANNED,
        reason=reason,
        cause=cause,
        objects=(),
        unplanned_objects=(*owner.unplanned_objects, *owner.objects),
    )


def isolate(owners: Sequence[Owner], links: Links) -> list[Owner]:
    """`owners` (any order, kept) with every owner that waits for a not planned one marked
    "depends on X"; a not planned owner that waited in vain for an object a not planned
    owner would have produced is said to depend on that owner."""
    by_id = {o.id: o for o in owners}
    producers = dict(links.would_produce)
    producers.update({key_of(obj.id): o.id for o in owners for obj in (*o.objects, *o.unplanned_objects)})
    blocked: dict[ObjectId, ObjectId] = {k: v for k, v in links.blocked_by.items() if k in by_id}
    changed = True
    while changed:
        changed = False
        for owner in list(by_id.values()):
            blocker = _blocker(owner, by_id, producers, links)
            if blocker is None or blocked.get(owner.id) == blocker:
                continue
            if owner.status is OwnerStatus.BUILT:
                by_id[owner.id] = not_planned(owner, f"depends on {blocker}", Cause.ERROR)
            elif owner.id in links.missing and owner.id not in blocked:
                what = "/".join(p for p in links.missing[owner.id] if p)
                by_id[owner.id] = replace(owner, reason=f"depends on {blocker} (it would produce {what})")
            else:
                continue
            blocked[owner.id] = blocker
            changed = True
    return [_with_root_cause(by_id[o.id], by_id, blocked) for o in owners]


def _blocker(
    owner: Owner, by_id: Mapping[ObjectId, Owner], producers: Mapping[ObjectKey, ObjectId], links: Links
) -> ObjectId | None:
    """The first not planned owner `owner` waits for: its parent, a dependsOn, a producer."""
    if owner.status is OwnerStatus.NOT_PLANNED:
        waited = links.missing.get(owner.id)
        producer = producers.get(waited) if waited is not None else None
        return producer if producer is not None and _failed(by_id.get(producer)) else None
    if owner.status is not OwnerStatus.BUILT:
        return None
    candidates = [owner.parent, *owner.depends_on]
    candidates += [producers.get(k) for k in sorted(links.lookups.get(owner.id, ()))]
    for candidate in candidates:
        if candidate is not None and candidate != owner.id and _failed(by_id.get(candidate)):
            return candidate
    return None


def _failed(owner: Owner | None) -> bool:
    return owner is not None and owner.status is OwnerStatus.NOT_PLANNED


def _with_root_cause(owner: Owner, by_id: Mapping[ObjectId, Owner], blocked: Mapping[ObjectId, ObjectId]) -> Owner:
    """A dependant takes the cause of the owner at the end of its chain (cycles: ERROR)."""
    if owner.id not in blocked:
        return owner
    seen = {owner.id}
    current = blocked[owner.id]
    while current in blocked and current not in seen:
        seen.add(current)
        current = blocked[current]
    root = by_id.get(current)
    cause = root.cause if root is not None and current not in seen and root.cause is not None else Cause.ERROR
    return replace(owner, cause=cause)


def recorded_dependants(owners: Sequence[Owner], recorded: Mapping[ObjectId, OwnerState]) -> list[Owner]:
    """Owners of the state missing from `owners` because the owner whose inventory holds
    their Flux object is not planned (they depend on it) or suspended (Flux leaves them as
    they are), transitively; in id order."""
    present = {o.id: o for o in owners}
    applied_by = {obj.id: state.id for state in recorded.values() for obj in state.objects}
    found: dict[ObjectId, Owner] = {}
    changed = True
    while changed:
        changed = False
        for oid in sorted(recorded):
            by = applied_by.get(oid)
            parent = None if by is None else present.get(by) or found.get(by)
            if oid in present or oid in found or parent is None or parent.status is OwnerStatus.BUILT:
                continue
            found[oid] = _absent_owner(oid, recorded[oid], parent)
            changed = True
    return [found[oid] for oid in sorted(found)]


def _absent_owner(oid: ObjectId, state: OwnerState, parent: Owner) -> Owner:
    kind = "HelmRelease" if oid.kind == "HelmRelease" else "Kustomization"
    base = Owner(oid, kind, OwnerStatus.NOT_PLANNED, "", "", parent.id, (), state.prune, None)
    if parent.status is OwnerStatus.SUSPENDED:
        return replace(base, status=OwnerStatus.SUSPENDED, reason=f"{parent.id} (which applies it) is suspended")
    return replace(base, reason=f"depends on {parent.id}", cause=parent.cause or Cause.ERROR)
