"""The owner graph: dependsOn, parent and producers of looked-up objects before their
consumers; a cycle is one PlanError naming it."""

from __future__ import annotations

import pytest

from fluxform.apply.order import owner_graph
from fluxform.errors import PlanError
from fluxform.objects import ObjectId
from fluxform.planner.model import OwnerSpec, OwnerStatus
from fluxform.planner.planfile import PlanOwner
from tests.support.ids import ks


def owner(oid: ObjectId, *, depends_on: tuple[ObjectId, ...] = (), parent: ObjectId | None = None) -> PlanOwner:
    return PlanOwner(oid, "Kustomization", OwnerStatus.BUILT, "", "", depends_on, parent, True, 0, "", OwnerSpec())


ROOT, INFRA, APPS, DB = ks("flux-system"), ks("infra"), ks("apps"), ks("db")


def test_depends_on_parent_and_producers_are_edges() -> None:
    owners = [
        owner(ROOT),
        owner(INFRA, parent=ROOT),
        owner(DB, parent=ROOT),
        owner(APPS, depends_on=(INFRA,), parent=ROOT),
    ]
    produced = {("Secret", "apps", "db-password"): DB, ("ConfigMap", "flux-system", "settings"): ROOT}
    lookups = {APPS: [("Secret", "apps", "db-password"), ("ConfigMap", "flux-system", "settings")]}
    graph = owner_graph(owners, produced, lookups)
    assert graph.needs[APPS] == {INFRA, ROOT, DB}
    assert graph.why[(APPS, DB)] == "produces Secret/apps/db-password"
    assert graph.why[(APPS, INFRA)] == "dependsOn"
    assert graph.needs[ROOT] == frozenset()
    assert graph.dependants(ROOT) == {INFRA, DB, APPS}
    assert graph.dependants(DB) == {APPS}


def test_edges_to_owners_outside_the_plan_and_self_lookups_are_dropped() -> None:
    graph = owner_graph(
        [owner(APPS, depends_on=(ks("gone"),))],
        {("ConfigMap", "demo", "own"): APPS},
        {APPS: [("ConfigMap", "demo", "own")]},
    )
    assert graph.needs[APPS] == frozenset()


def test_a_cycle_through_a_lookup_is_a_plan_error_naming_it() -> None:
    owners = [owner(INFRA, depends_on=(APPS,)), owner(APPS)]
    with pytest.raises(PlanError) as raised:
        owner_graph(owners, {("Secret", "demo", "token"): INFRA}, {APPS: [("Secret", "demo", "token")]})
    line = raised.value.one_line()
    assert "cycle" in line
    assert "Kustomization/flux-system/apps -> Kustomization/flux-system/infra -> Kustomization/flux-system/apps" in line
    assert "produces Secret/demo/token" in line and "dependsOn" in line
