"""Owner ordering: dependsOn and parent -> child edges (flux-semantics 4.8), cycles refused."""

from __future__ import annotations

import itertools

from fluxform.objects import ObjectId
from fluxform.planner.dag import find_cycle, order_owners
from fluxform.planner.model import Owner, OwnerStatus
from tests.support.ids import hr, ks


def owner(oid: ObjectId, *depends_on: ObjectId, parent: ObjectId | None = None) -> Owner:
    return Owner(
        id=oid,
        kind=oid.kind,
        status=OwnerStatus.BUILT,
        source="GitRepository/flux-system/flux-system",
        path="./",
        parent=parent,
        depends_on=tuple(depends_on),
        prune=True,
        origin=None,
    )


def order(owners: list[Owner]) -> list[str]:
    ordered, _ = order_owners(owners)
    return [o.id.name for o in ordered]


def test_depends_on_comes_first() -> None:
    """4.8: a Kustomization is applied only after every dependsOn target."""
    owners = [owner(ks("a"), ks("b")), owner(ks("b"), ks("c")), owner(ks("c"))]
    assert order(owners) == ["c", "b", "a"]


def test_parent_comes_before_child() -> None:
    """A Flux object exists only once the owner rendering it was applied."""
    owners = [owner(ks("a-child"), parent=ks("z-parent")), owner(ks("z-parent"))]
    assert order(owners) == ["z-parent", "a-child"]


def test_helm_release_depends_on_helm_release() -> None:
    """5.6: HelmRelease dependsOn refers to other HelmReleases."""
    owners = [owner(hr("app", "apps"), hr("db", "apps")), owner(hr("db", "apps")), owner(ks("infra"))]
    ordered = order(owners)
    assert ordered.index("db") < ordered.index("app")


def test_diamond_orders_every_dependency_first() -> None:
    owners = [
        owner(ks("top"), ks("left"), ks("right")),
        owner(ks("left"), ks("bottom")),
        owner(ks("right"), ks("bottom")),
        owner(ks("bottom")),
    ]
    ordered = order(owners)
    assert ordered[0] == "bottom"
    assert ordered[-1] == "top"


def test_order_is_deterministic_whatever_the_input_order() -> None:
    """Same input, same bytes: independent owners come out by id, for every input order."""
    owners = [owner(ks("b")), owner(ks("a"), ks("c")), owner(ks("c")), owner(ks("d", "other"))]
    results = {tuple(order(list(p))) for p in itertools.permutations(owners)}
    assert results == {("b", "c", "a", "d")}


def test_cycle_members_are_not_planned_with_the_cycle_spelled_out() -> None:
    """4.8: Flux deadlocks silently on a dependsOn cycle: its members are not planned, the
    path spelled out; the rest of the fleet is ordered as usual."""
    owners = [owner(ks("a"), ks("b")), owner(ks("b"), ks("c")), owner(ks("c"), ks("a")), owner(ks("free"))]

    ordered, _ = order_owners(owners)

    cycle = (
        "dependsOn cycle: Kustomization/flux-system/a -> Kustomization/flux-system/b"
        " -> Kustomization/flux-system/c -> Kustomization/flux-system/a (Flux would never reconcile these)"
    )
    by_name = {o.id.name: o for o in ordered}
    assert {n: (o.status, o.reason) for n, o in by_name.items() if n != "free"} == {
        n: (OwnerStatus.NOT_PLANNED, cycle) for n in "abc"
    }
    assert by_name["free"].status is OwnerStatus.BUILT and len(ordered) == 4


def test_self_dependency_is_a_cycle() -> None:
    (alone,), _ = order_owners([owner(ks("a"), ks("a"))])
    assert alone.status is OwnerStatus.NOT_PLANNED
    assert alone.reason.startswith("dependsOn cycle: Kustomization/flux-system/a -> Kustomization/flux-system/a")


def test_unknown_depends_on_is_a_diagnostic_not_an_error() -> None:
    """4.8: a dependsOn target outside the fleet: Flux would wait for it; we warn and go on."""
    ordered, diagnostics = order_owners([owner(ks("a"), ks("elsewhere", "other")), owner(ks("b"))])
    assert [o.id.name for o in ordered] == ["a", "b"]
    assert len(diagnostics) == 1
    assert diagnostics[0].subject == ks("a")
    assert "Kustomization/other/elsewhere" in diagnostics[0].summary


def test_depends_on_matches_namespace() -> None:
    """4.8: dependsOn is by namespace and name: same name elsewhere is another object."""
    _, diagnostics = order_owners([owner(ks("a"), ks("b", "team")), owner(ks("b"))])
    assert len(diagnostics) == 1


def test_find_cycle_none_on_acyclic_graph() -> None:
    assert find_cycle({ks("a"): {ks("b")}, ks("b"): set()}) is None
