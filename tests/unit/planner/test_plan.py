"""Pairing desired objects with recorded state (Flux's inventory rule, flux-semantics 4.5/4.6)."""

from __future__ import annotations

from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import Action, Plan, plan_offline
from fluxform.planner.planfile import plan_file_from
from fluxform.state.model import OwnerState, StateFile, new_state, next_revision
from fluxform.views.plan import render_json, render_markdown, render_text, summary_line
from tests.support.desired import cm, no_mask, owner
from tests.support.ids import ks
from tests.support.states import state_object

KS, OTHER = ks("apps"), ks("infra")


def state_of(*owners: tuple[ObjectId, list[dict[str, Any]], bool]) -> StateFile:
    recorded = {
        oid: OwnerState(oid, prune, "rev", "2026-01-01T00:00:00Z", "t", tuple(state_object(b) for b in bodies))
        for oid, bodies, prune in owners
    }
    return next_revision(new_state("c"), recorded, operation="apply", by="t")


def plan(desired: list[Owner], state: StateFile | None) -> Plan:
    return plan_offline(DesiredState(tuple(desired), "sha256:x"), state, no_mask, target="t")


def actions(result: Plan) -> dict[str, str]:
    return {c.id.name: str(c.action) for c in result.changes}


def test_no_state_means_everything_is_created() -> None:
    result = plan([owner(KS, cm("a", "1"), cm("b", "2"))], None)
    assert actions(result) == {"a": "create", "b": "create"}
    assert summary_line(result.counts()) == "Plan: 2 to add, 0 to change, 0 to destroy."


def test_same_digest_is_noop_and_changed_body_is_update_with_diff() -> None:
    state = state_of((KS, [cm("a", "1"), cm("b", "2")], True))
    result = plan([owner(KS, cm("a", "1"), cm("b", "3"))], state)
    assert actions(result) == {"a": "no-op", "b": "update"}
    update = next(c for c in result.changes if c.action is Action.UPDATE)
    assert "-  k: '2'" in update.diff and "+  k: '3'" in update.diff
    assert result.has_changes()
    assert not plan([owner(KS, cm("a", "1"), cm("b", "2"))], state).has_changes()


def test_dropped_object_is_deleted_when_owner_prunes_else_forgotten() -> None:
    state = state_of((KS, [cm("a", "1"), cm("gone", "x")], True))
    assert actions(plan([owner(KS, cm("a", "1"))], state))["gone"] == "delete"
    assert actions(plan([owner(KS, cm("a", "1"), prune=False)], state))["gone"] == "forget"


def test_prune_disabled_annotation_forgets_instead_of_deleting() -> None:
    state = state_of((KS, [cm("a", "1"), cm("keep", "x", **{"kustomize.toolkit.fluxcd.io/prune": "Disabled"})], True))
    change = next(c for c in plan([owner(KS, cm("a", "1"))], state).changes if c.id.name == "keep")
    assert change.action is Action.FORGET
    assert "prune: disabled" in change.reason


def test_suspended_owner_objects_are_left_alone() -> None:
    state = state_of((KS, [cm("a", "1")], True))
    result = plan([owner(KS, status=OwnerStatus.SUSPENDED)], state)
    assert result.changes == ()


def test_removed_owner_with_prune_deletes_its_objects() -> None:
    state = state_of((KS, [cm("a", "1")], True), (OTHER, [cm("b", "1")], True))
    result = plan([owner(KS, cm("a", "1"))], state)
    change = next(c for c in result.changes if c.id.name == "b")
    assert change.action is Action.DELETE
    assert "itself was removed" in change.reason


def test_object_moving_between_owners_is_an_update_with_reason() -> None:
    state = state_of((OTHER, [cm("a", "1")], True))
    change = plan([owner(KS, cm("a", "1")), owner(OTHER)], state).changes[0]
    assert change.action is Action.UPDATE
    assert change.reason.startswith("moves from Kustomization/flux-system/infra")


def test_renderings_agree_and_are_deterministic() -> None:
    state = state_of((KS, [cm("a", "1"), cm("gone", "x")], True))
    result = plan_file_from(plan([owner(KS, cm("a", "2"), cm("new", "n"))], state))
    text = render_text(result)
    assert text == render_text(result)
    assert "~ update  ConfigMap/apps/a" in text and "+ create  ConfigMap/apps/new" in text
    assert "- delete  ConfigMap/apps/gone" in text
    assert text.rstrip().endswith("Plan: 1 to add, 1 to change, 1 to destroy.")
    assert render_json(result) == render_json(result)
    assert "**Plan: 1 to add, 1 to change, 1 to destroy.**" in render_markdown(result)
    assert "\x1b[" in render_text(result, colour=True) and "\x1b[" not in text


def test_markdown_is_capped_with_a_note() -> None:
    big = [cm(f"c{i}", f"{i}" + "v" * 3000) for i in range(20)]  # each edit its own: none are grouped
    state = state_of((KS, [cm(f"c{i}", f"{i}" + "w" * 3000) for i in range(20)], True))
    markdown = render_markdown(plan_file_from(plan([owner(KS, *big)], state)))
    assert len(markdown) < 30_000
    assert "not shown: the comment size limit was reached" in markdown
