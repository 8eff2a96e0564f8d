"""Base vs head desired states: pairing by (owner, id), Flux's prune rules, masking, fields."""

from __future__ import annotations

from typing import Any

import pytest

from fluxform.decrypt.mask import Masker
from fluxform.planner.model import DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import PRUNE_ANNOTATION, Action
from fluxform.planner.revdiff.compare import ClusterStatus, OwnerStatusChange, count_changes, diff_states
from tests.support.desired import cm, owner
from tests.support.ids import ks

APPS, TEAM = ks("apps"), ks("team")
MASK = Masker(b"k" * 32)


def masking(manifest: Any, paths: Any = ()) -> dict[str, Any]:
    return MASK.mask_manifest(manifest, sensitive_paths=paths)


def secret(name: str, password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "apps"},
            "stringData": {"password": password}}  # fmt: skip


def state(*owners: Owner) -> DesiredState:
    return DesiredState(owners=owners, source_revision="sha256:x")


def actions(owner_diff: Any) -> list[tuple[str, str, str]]:
    return [(str(c.action), c.id.name, c.reason) for c in owner_diff.changes]


def test_added_changed_removed_and_unchanged_objects() -> None:
    base = state(owner(APPS, cm("same"), cm("edited", "1"), cm("gone")))
    head = state(owner(APPS, cm("same"), cm("edited", "2"), cm("new")))
    result = diff_states("clusters/a", base, head, masking)
    (apps,) = result.owners
    assert apps.status is OwnerStatusChange.CHANGED and apps.unchanged == 1
    assert actions(apps) == [("create", "new", ""), ("update", "edited", ""), ("delete", "gone", "no longer rendered")]
    update = apps.changes[1]
    assert "-  k: '1'\n+  k: '2'" in update.diff
    assert result.status is ClusterStatus.CHANGED
    assert count_changes(list(result.changes())) == {"add": 1, "change": 1, "destroy": 1, "forget": 0}


@pytest.mark.parametrize(
    ("prune", "annotations", "expected"),
    [
        (True, {}, ("delete", "no longer rendered")),
        (False, {}, ("forget", f"{APPS} has prune: false")),
        (True, {PRUNE_ANNOTATION: "Disabled"}, ("forget", f"{PRUNE_ANNOTATION}: disabled")),
    ],
    ids=["pruned", "prune-false", "prune-disabled"],
)
def test_removed_objects_follow_flux_prune_rules(prune: bool, annotations: dict[str, str], expected: Any) -> None:
    base = state(owner(APPS, cm("gone", **annotations), prune=prune))
    head = state(owner(APPS, prune=prune))
    (apps,) = diff_states("c", base, head, masking).owners
    ((action, _, reason),) = actions(apps)
    assert (action, reason) == expected


def test_head_prune_setting_decides_for_a_kept_owner() -> None:
    base = state(owner(APPS, cm("gone"), prune=True))
    head = state(owner(APPS, prune=False))
    (apps,) = diff_states("c", base, head, masking).owners
    assert apps.changes[0].action is Action.FORGET


def test_object_moving_owner_is_pruned_by_old_and_created_by_new() -> None:
    base = state(owner(APPS, cm("shared")))
    head = state(owner(TEAM, cm("shared")))
    result = diff_states("c", base, head, masking)
    owners = {o.id: o for o in result.owners}
    assert [o.id for o in result.owners] == [TEAM, APPS]  # head order, then removed owners
    assert owners[TEAM].status is OwnerStatusChange.ADDED and owners[APPS].status is OwnerStatusChange.REMOVED
    assert actions(owners[TEAM]) == [("create", "shared", f"moves from {APPS}")]
    assert actions(owners[APPS]) == [("delete", "shared", f"moves to {TEAM}")]


def test_removed_owner_prunes_everything_it_rendered() -> None:
    result = diff_states("c", state(owner(APPS, cm("a")), owner(TEAM, cm("b"))), state(owner(APPS, cm("a"))), masking)
    team = next(o for o in result.owners if o.id == TEAM)
    assert actions(team) == [("delete", "b", f"{TEAM} itself was removed")]


def test_suspended_at_head_leaves_objects_alone() -> None:
    base = state(owner(APPS, cm("a"), cm("b")))
    head = state(owner(APPS, status=OwnerStatus.SUSPENDED))
    (apps,) = diff_states("c", base, head, masking).owners
    assert apps.changes == () and apps.note == "suspended at head: Flux leaves its objects alone"
    assert apps.status is OwnerStatusChange.UNCHANGED


def test_secret_values_are_compared_masked() -> None:
    base = state(owner(APPS, secret("db", "hunter2-old"), secret("api", "same-value")))
    head = state(owner(APPS, secret("db", "hunter2-new"), secret("api", "same-value")))
    (apps,) = diff_states("c", base, head, masking).owners
    (change,) = apps.changes
    assert change.id.name == "db" and apps.unchanged == 1
    assert change.before is not None and change.after is not None
    assert str(change.before["stringData"]["password"]).startswith("***(hmac:")
    assert change.before["stringData"]["password"] != change.after["stringData"]["password"]
    assert "hunter2" not in change.diff and "hunter2" not in repr(change.before) + repr(change.after)


def test_cluster_added_or_removed_at_one_side() -> None:
    added = diff_states("c", None, state(owner(APPS, cm("a"))), masking)
    removed = diff_states("c", state(owner(APPS, cm("a"))), None, masking)
    assert (added.status, removed.status) == (ClusterStatus.ADDED, ClusterStatus.REMOVED)
    assert [str(c.action) for c in added.changes()] == ["create"]
    assert [str(c.action) for c in removed.changes()] == ["delete"]


def test_only_compares_the_owners_named() -> None:
    base = state(owner(APPS, cm("a", "1")), owner(TEAM, cm("b", "1")))
    head = state(owner(APPS, cm("a", "2")), owner(TEAM, cm("b", "2")))
    result = diff_states("c", base, head, masking, only=frozenset({TEAM}))
    apps, team = result.owners
    assert (apps.changes, apps.unchanged, apps.status) == ((), 1, OwnerStatusChange.UNCHANGED)
    assert actions(team) == [("update", "b", "")]
