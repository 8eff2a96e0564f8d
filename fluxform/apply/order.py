"""Which owner must wait for which: the owner graph apply walks.

An owner waits for its `dependsOn` (Flux's rule), for its parent (the Flux object exists only
once the owner rendering it is applied), and for the owners producing what its render looked
up (a `substituteFrom` Secret, a `valuesFrom` ConfigMap, a chart source): Flux would fail to
build it until they exist. Owners with nothing between them run concurrently. A cycle cannot
be applied in any order: it is a PlanError naming it, never a silent deadlock.

    graph = owner_graph(plan.owners, produced_by, lookups)
    graph.needs[owner_id]        # the owners it waits for
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fluxform.errors import PlanError
from fluxform.objects import ObjectId
from fluxform.planner.dag import find_cycle
from fluxform.planner.planfile import PlanOwner

__all__ = ["ObjectKey", "OwnerGraph", "owner_graph"]

#: (kind, namespace, name): how a lookup names the object it reads (no group, as Flux's lookups)
ObjectKey = tuple[str, str, str]


@dataclass(frozen=True)
class OwnerGraph:
    order: tuple[ObjectId, ...]  # the plan's owner order (dependencies first)
    needs: Mapping[ObjectId, frozenset[ObjectId]]  # owner -> the owners it waits for
    why: Mapping[tuple[ObjectId, ObjectId], str]  # (owner, needed) -> "dependsOn" | "parent" | "produces X"

    def dependants(self, owner: ObjectId) -> set[ObjectId]:
        """Every owner that waits, directly or not, for `owner`."""
        found: set[ObjectId] = set()
        todo = [owner]
        while todo:
            current = todo.pop()
            for other, needed in self.needs.items():
                if current in needed and other not in found:
                    found.add(other)
                    todo.append(other)
        return found


def owner_graph(
    owners: Sequence[PlanOwner],
    produced_by: Mapping[ObjectKey, ObjectId],
    lookups: Mapping[ObjectId, Iterable[ObjectKey]],
) -> OwnerGraph:
    """The graph over `owners`; edges to owners outside it (not in this plan) are dropped:
    the plan already said what it could not render."""
    known = {o.id for o in owners}
    needs: dict[ObjectId, set[ObjectId]] = {o.id: set() for o in owners}
    why: dict[tuple[ObjectId, ObjectId], str] = {}

    def link(owner: ObjectId, needed: ObjectId | None, reason: str) -> None:
        if needed is None or needed == owner or needed not in known:
            return
        needs[owner].add(needed)
        why.setdefault((owner, needed), reason)

    for owner in owners:
        for dep in owner.depends_on:
            link(owner.id, dep, "dependsOn")
        link(owner.id, owner.parent, "parent")
        for key in sorted(lookups.get(owner.id, ())):
            link(owner.id, produced_by.get(key), f"produces {key[0]}/{key[1]}/{key[2]}")
    cycle = find_cycle(needs)
    if cycle is not None:
        steps = " -> ".join(str(node) for node in cycle)
        reasons = "; ".join(f"{a} needs {b}: {why[(a, b)]}" for a, b in itertools.pairwise(cycle))
        raise PlanError(
            f"owners wait for each other in a cycle: {steps}",
            detail=reasons,
            hint="no apply order exists: break the cycle (dependsOn, or what one owner looks up from another)",
        )
    return OwnerGraph(tuple(o.id for o in owners), {k: frozenset(v) for k, v in needs.items()}, why)
