"""Order owners so that everything an owner depends on comes first.

Edges: `dependsOn` (Kustomization -> Kustomization, HelmRelease -> HelmRelease) and parent ->
child (a Flux object exists only once the owner that renders it was applied). Flux itself
deadlocks silently on a dependsOn cycle: its members are not planned, with the cycle spelled
out, and the rest of the fleet is ordered without them.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from fluxform.errors import Diagnostic
from fluxform.objects import ObjectId
from fluxform.planner.isolation import not_planned
from fluxform.planner.model import Cause, Owner

__all__ = ["find_cycle", "order_owners"]


def find_cycle(edges: dict[ObjectId, set[ObjectId]]) -> list[ObjectId] | None:
    """A dependsOn cycle as a path `a -> b -> ... -> a`, or None."""
    state: dict[ObjectId, int] = {}  # 1 visiting, 2 done
    stack: list[ObjectId] = []

    def visit(node: ObjectId) -> list[ObjectId] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def order_owners(owners: Sequence[Owner]) -> tuple[list[Owner], list[Diagnostic]]:
    """`owners` in dependency order, and warnings; the members of a dependsOn cycle come
    back not planned (Flux would never reconcile them)."""
    by_id = {o.id: o for o in owners}
    diagnostics: list[Diagnostic] = []
    depends: dict[ObjectId, set[ObjectId]] = {o.id: set() for o in owners}
    for owner in owners:
        for dep in owner.depends_on:
            if dep in by_id:
                depends[owner.id].add(dep)
            else:
                diagnostics.append(
                    Diagnostic(f"dependsOn {dep} is not part of this fleet; Flux would wait for it", subject=owner.id)
                )
    while (cycle := find_cycle(depends)) is not None:
        reason = "dependsOn cycle: " + " -> ".join(str(i) for i in cycle) + " (Flux would never reconcile these)"
        for member in cycle[:-1]:
            by_id[member] = not_planned(by_id[member], reason, Cause.ERROR)
            depends[member] = set()  # the cycle is broken; its members are ordered like the rest
    owners = [by_id[o.id] for o in owners]
    edges = {k: set(v) for k, v in depends.items()}
    for owner in owners:
        if owner.parent is not None and owner.parent in by_id:
            edges[owner.id].add(owner.parent)
    if find_cycle(edges) is not None:  # parent/child against dependsOn: order by id
        return sorted(owners, key=lambda o: o.id), diagnostics
    indegree = {k: len(v) for k, v in edges.items()}
    users: dict[ObjectId, list[ObjectId]] = {k: [] for k in edges}
    for node, deps in edges.items():
        for dep in deps:
            users[dep].append(node)
    ready = [k for k, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    ordered: list[Owner] = []
    while ready:
        node = heapq.heappop(ready)
        ordered.append(by_id[node])
        for user in users[node]:
            indegree[user] -= 1
            if indegree[user] == 0:
                heapq.heappush(ready, user)
    return ordered, diagnostics
