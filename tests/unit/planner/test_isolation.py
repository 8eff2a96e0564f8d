"""Per-owner isolation: a not planned owner takes only what waits for it (its children, its
dependsOn dependants, the owners looking up what it alone produces), each marked "depends on
X" with X's cause; and a plan never prunes what a not planned or suspended owner applies."""

from __future__ import annotations

from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.isolation import Links, isolate, not_planned, recorded_dependants
from fluxform.planner.model import Cause, DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.planner.partial import PartialPlan, PartialPolicy
from fluxform.planner.plan import Action, plan_offline
from fluxform.state.model import OwnerState, StateObject, canonical_digest, new_state, next_revision
from tests.support.desired import no_mask

KS_GROUP = "kustomize.toolkit.fluxcd.io"


def ks(name: str) -> ObjectId:
    return ObjectId("flux-system", name, KS_GROUP, "Kustomization")


def cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}}


def owner(
    oid: ObjectId, *bodies: dict[str, Any], parent: ObjectId | None = None, depends: tuple[ObjectId, ...] = ()
) -> Owner:
    objects = tuple(DesiredObject(ObjectId.from_manifest(b), "v1", b, oid) for b in bodies)
    return Owner(oid, "Kustomization", OwnerStatus.BUILT, "src", "./x", parent, depends, True, None, objects)


def failed(oid: ObjectId, cause: Cause = Cause.CHART, **kwargs: Any) -> Owner:
    return not_planned(owner(oid, **kwargs), "cannot fetch chart", cause)


def by_name(owners: list[Owner]) -> dict[str, tuple[str, str, Cause | None]]:
    return {o.id.name: (str(o.status), o.reason, o.cause) for o in owners}


def test_children_depends_on_and_lookups_of_a_failed_owner_are_not_planned_the_rest_is() -> None:
    owners = [
        failed(ks("infra")),
        owner(ks("child"), cm("c"), parent=ks("infra")),
        owner(ks("after"), cm("a"), depends=(ks("infra"),)),
        owner(ks("reader"), cm("r")),
        owner(ks("grandchild"), parent=ks("child")),
        owner(ks("healthy"), cm("h")),
    ]
    links = Links(lookups={ks("reader"): frozenset({("ConfigMap", "apps", "c")})})

    result = by_name(isolate(owners, links))

    depends = "not planned"
    assert result["infra"] == (depends, "cannot fetch chart", Cause.CHART)
    assert result["child"] == (depends, "depends on Kustomization/flux-system/infra", Cause.CHART)
    assert result["after"] == (depends, "depends on Kustomization/flux-system/infra", Cause.CHART)
    assert result["reader"] == (depends, "depends on Kustomization/flux-system/child", Cause.CHART)  # its producer
    assert result["grandchild"] == (depends, "depends on Kustomization/flux-system/child", Cause.CHART)
    assert result["healthy"] == ("built", "", None)


def test_what_a_dependant_rendered_is_kept_aside_for_build_never_planned() -> None:
    (_, after) = isolate([failed(ks("infra")), owner(ks("after"), cm("a"), depends=(ks("infra"),))], Links())
    assert after.objects == () and [o.id.name for o in after.unplanned_objects] == ["a"]


def test_an_owner_waiting_in_vain_for_what_a_failed_one_would_produce_depends_on_it() -> None:
    waiting = not_planned(owner(ks("app")), "substitute from 'Secret/token' error: not found", Cause.OBJECT)
    links = Links(
        missing={ks("app"): ("Secret", "apps", "token")}, would_produce={("Secret", "apps", "token"): ks("vault")}
    )

    result = by_name(isolate([failed(ks("vault"), Cause.KEYS), waiting], links))

    assert result["app"] == (
        "not planned",
        "depends on Kustomization/flux-system/vault (it would produce Secret/apps/token)",
        Cause.KEYS,  # so --missing-keys warn, which accepts vault, accepts app too
    )


def test_dependants_of_remote_and_suspended_owners_are_planned() -> None:
    remote = Owner(ks("spoke"), "Kustomization", OwnerStatus.REMOTE, "s", "./", None, (), True, None)
    suspended = Owner(ks("paused"), "Kustomization", OwnerStatus.SUSPENDED, "s", "./", None, (), True, None)
    after = owner(ks("after"), cm("a"), depends=(ks("spoke"), ks("paused")))

    assert isolate([remote, suspended, after], Links())[2].status is OwnerStatus.BUILT


def _state(*owners: tuple[ObjectId, list[dict[str, Any]]]) -> Any:
    recorded = {
        oid: OwnerState(
            oid,
            True,
            "rev",
            "2026-01-01T00:00:00Z",
            "t",
            tuple(StateObject(ObjectId.from_manifest(b), "v1", canonical_digest(b), b) for b in bodies),
        )
        for oid, bodies in owners
    }
    return next_revision(new_state("c"), recorded, operation="apply", by="t")


def _flux_ks(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{KS_GROUP}/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
    }


def test_a_plan_never_prunes_what_a_not_planned_parent_would_apply() -> None:
    """The parent failed, so its child Kustomization is not even in the render: the state
    still knows it (the parent's inventory holds its Flux object), so it is not planned
    (depends on the parent) and its objects stay, instead of being destroyed."""
    state = _state(
        (ks("root"), [_flux_ks("apps")]),
        (ks("apps"), [_flux_ks("team"), cm("a1")]),
        (ks("team"), [cm("t1")]),
        (ks("gone"), [cm("g1")]),  # applied by nothing recorded: really removed
    )
    desired = DesiredState((owner(ks("root"), _flux_ks("apps")), failed(ks("apps"), parent=ks("root"))), "sha256:x")

    result = plan_offline(desired, state, no_mask, target="t")

    assert {c.id.name: c.action for c in result.changes if c.action is not Action.NOOP} == {"g1": Action.DELETE}
    team = next(o for o in result.owners if o.id == ks("team"))
    assert (team.status, team.reason, team.cause) == (
        OwnerStatus.NOT_PLANNED, "depends on Kustomization/flux-system/apps", Cause.CHART
    )  # fmt: skip
    assert [o.id.name for o in result.skipped()] == ["apps", "team"]


def test_children_of_a_suspended_parent_are_left_alone_and_not_skipped() -> None:
    state = _state((ks("root"), [_flux_ks("apps")]), (ks("apps"), [cm("a1")]))
    paused = Owner(ks("root"), "Kustomization", OwnerStatus.SUSPENDED, "s", "./", None, (), True, None)

    (child,) = recorded_dependants([paused], state.owners)

    assert (child.id, child.status) == (ks("apps"), OwnerStatus.SUSPENDED)
    assert child.reason == "Kustomization/flux-system/root (which applies it) is suspended"


def test_a_refused_partial_plan_names_each_reason_once_and_counts_dependants() -> None:
    owners = isolate(
        [failed(ks("infra")), owner(ks("a"), depends=(ks("infra"),)), owner(ks("b"), depends=(ks("infra"),))], Links()
    )
    accepted = PartialPolicy(accepted=frozenset({Cause.CHART}))

    assert accepted.refused(owners) == []  # --missing-charts warn accepts infra and what waits for it
    try:
        PartialPolicy().check(owners)
    except PartialPlan as refused:
        assert refused.one_line() == (
            "Kustomization/flux-system/infra: not planned: cannot fetch chart (2 more not planned: they depend on "
            "it); fix it, or plan the rest with --partial (or --missing-charts warn)"
        )
    else:
        raise AssertionError("a plan leaving owners out must be refused without --partial")
