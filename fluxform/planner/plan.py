"""Diff the desired state against recorded state: what would be created, changed, destroyed.

Pairing follows Flux's inventory rule: desired objects are created or updated; objects the
state recorded that the repo no longer renders are deleted when their owner prunes (else
forgotten: dropped from the inventory, left in the cluster). Objects of a suspended owner
are left alone, as Flux leaves them, and so are those of an owner that is not planned (it
could not be rendered here, or it depends on one that could not): nothing of it is pruned,
not even when its parent's failure hides it from the render. Secret values are masked before comparison, so two
plans over the same inputs are byte-identical and no plaintext reaches the plan.

    plan = plan_offline(desired, state, masking, target="clusters/prod", settings=PlanSettings())
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fluxform import __version__, yamlio
from fluxform.errors import Diagnostic
from fluxform.objects import ObjectId
from fluxform.planner.isolation import recorded_dependants
from fluxform.planner.model import DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.planner.settings import LiveTarget, PlanSettings
from fluxform.state.model import PENDING_DIGEST, OwnerState, StateFile, StateObject, canonical_digest

__all__ = [
    "CONTAINER_KINDS",
    "Action",
    "Change",
    "Masking",
    "Plan",
    "count_actions",
    "plan_offline",
    "unified_diff",
    "with_recorded_dependants",
]

PRUNE_ANNOTATION = "kustomize.toolkit.fluxcd.io/prune"
#: Kinds whose deletion deletes everything in them: the plan shows each on a line of its own,
#: and apply without a prompt needs --allow-destroy-namespaces.
CONTAINER_KINDS = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})


class Action(StrEnum):
    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    FORGET = "forget"  # leaves the inventory, stays in the cluster (prune off / prune: disabled)


#: Turns a manifest into its plaintext-free form: Secret values, and the given leaf paths
#: (values that were SOPS-encrypted in other kinds), replaced by keyed fingerprints.
Masking = Callable[[Mapping[str, Any], Sequence[tuple[str | int, ...]]], dict[str, Any]]


@dataclass(frozen=True)
class Change:
    id: ObjectId
    api_version: str
    owner: ObjectId
    action: Action
    before: Mapping[str, Any] | None  # masked; None for CREATE (or when state kept no manifest)
    after: Mapping[str, Any] | None  # masked; None for DELETE/FORGET
    reason: str = ""  # for display only
    live_resource_version: str | None = None  # seen in the cluster ("" = absent); None: not read
    desired: Mapping[str, Any] | None = field(default=None, repr=False)  # masked manifest apply sends
    adopted: bool = False  # exists in the cluster but not in the state

    @property
    def diff(self) -> str:
        return unified_diff(self.before, self.after)


@dataclass(frozen=True)
class Plan:
    """A plan in memory: its owners still hold the decrypted desired objects (never write
    them); `planner/planfile.py` makes the plaintext-free file of it."""

    fluxform_version: str
    target: str  # what was planned (path)
    source_revision: str
    state_lineage: str  # "" when there was no state
    state_serial: int
    mode: str  # "offline" | "live"
    owners: tuple[Owner, ...] = field(repr=False)
    changes: tuple[Change, ...] = ()  # apply order (owner order, then build order); deletes last
    drift: tuple[Change, ...] = ()  # live differs from the last apply; reported, not applied
    diagnostics: tuple[Diagnostic, ...] = ()
    settings: PlanSettings = field(default_factory=PlanSettings)
    live: LiveTarget | None = None  # the cluster a live plan read; None offline

    def counts(self) -> dict[str, int]:
        return count_actions(c.action for c in self.changes)

    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)

    def skipped(self) -> tuple[Owner, ...]:
        """Owners this plan leaves out (remote, or not planned): a plan holding one is partial."""
        return tuple(o for o in self.owners if not o.status.planned)


def count_actions(actions: Iterable[Action]) -> dict[str, int]:
    """Objects to add, change, destroy, forget and unchanged (a replace adds and destroys)."""
    counts = {"add": 0, "change": 0, "destroy": 0, "forget": 0, "unchanged": 0}
    for action in actions:
        if action in (Action.CREATE, Action.REPLACE):
            counts["add"] += 1
        if action in (Action.DELETE, Action.REPLACE):
            counts["destroy"] += 1
        if action is Action.UPDATE:
            counts["change"] += 1
        elif action is Action.FORGET:
            counts["forget"] += 1
        elif action is Action.NOOP:
            counts["unchanged"] += 1
    return counts


def unified_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    """YAML diff with sorted keys, so field order never shows up as a change."""
    a = yamlio.dump(dict(before)).splitlines(keepends=True) if before is not None else []
    b = yamlio.dump(dict(after)).splitlines(keepends=True) if after is not None else []
    return "".join(difflib.unified_diff(a, b, "before", "after", n=3))


def _change_for(obj: DesiredObject, masked: dict[str, Any], recorded: tuple[OwnerState, StateObject] | None) -> Change:
    if recorded is None:
        return Change(obj.id, obj.api_version, obj.owner, Action.CREATE, None, masked, desired=masked)
    owner_state, previous = recorded
    moved = owner_state.id != obj.owner
    if previous.digest == canonical_digest(masked) and not moved:
        return Change(obj.id, obj.api_version, obj.owner, Action.NOOP, previous.manifest, masked, desired=masked)
    reason = f"moves from {owner_state.id} to {obj.owner}" if moved else ""
    if previous.digest == PENDING_DIGEST and not reason:
        reason = "an interrupted apply recorded it as pending: it may or may not exist yet"
    elif previous.manifest is None and not reason:
        reason = "the state kept no manifest to diff against; its digest differs"
    return Change(obj.id, obj.api_version, obj.owner, Action.UPDATE, previous.manifest, masked, reason, desired=masked)


def removal_action(manifest: Mapping[str, Any] | None, *, prune: bool, owner: ObjectId, why: str) -> tuple[Action, str]:
    """Flux's garbage collection for an object its owner no longer renders: kept in the
    cluster (forgotten) with `prune: disabled` (label or annotation, any case) or when the
    owner does not prune; else deleted for `why`."""
    meta = (manifest or {}).get("metadata") or {}
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    if str(annotations.get(PRUNE_ANNOTATION, labels.get(PRUNE_ANNOTATION, ""))).lower() == "disabled":
        return Action.FORGET, f"{PRUNE_ANNOTATION}: disabled"
    if not prune:
        return Action.FORGET, f"{owner} has prune: false"
    return Action.DELETE, why


def _removal(owner_state: OwnerState, previous: StateObject, desired_owner: Owner | None) -> Change | None:
    if desired_owner is not None and desired_owner.status is not OwnerStatus.BUILT:
        return None  # suspended or not rendered: Flux touches nothing
    gone = "" if desired_owner is not None else f"; {owner_state.id} itself was removed"
    action, reason = removal_action(
        previous.manifest,
        prune=desired_owner.prune if desired_owner is not None else owner_state.prune,
        owner=owner_state.id,
        why=f"no longer rendered by {owner_state.id}{gone}",
    )
    return Change(previous.id, previous.api_version, owner_state.id, action, previous.manifest, None, reason)


def with_recorded_dependants(desired: DesiredState, state: StateFile | None) -> DesiredState:
    """`desired` plus the owners the state records that it lacks only because the owner
    applying them was not rendered or is suspended: their objects are left alone, not pruned."""
    if state is None:
        return desired
    extra = recorded_dependants(desired.owners, state.owners)
    return replace(desired, owners=(*desired.owners, *extra)) if extra else desired


def plan_offline(
    desired: DesiredState,
    state: StateFile | None,
    masking: Masking,
    *,
    target: str,
    settings: PlanSettings | None = None,
) -> Plan:
    desired = with_recorded_dependants(desired, state)
    recorded = state.objects() if state is not None else {}
    owners_by_id = {o.id: o for o in desired.owners}
    changes: list[Change] = []
    seen: set[ObjectId] = set()
    for owner in desired.owners:
        for obj in owner.objects:
            seen.add(obj.id)
            changes.append(_change_for(obj, masking(obj.body, obj.sensitive_paths), recorded.get(obj.id)))
    removals = []
    for oid, (owner_state, previous) in sorted(recorded.items()):
        if oid not in seen and (change := _removal(owner_state, previous, owners_by_id.get(owner_state.id))):
            removals.append(change)
    return Plan(
        fluxform_version=__version__,
        target=target,
        source_revision=desired.source_revision,
        state_lineage=state.lineage if state is not None else "",
        state_serial=state.serial if state is not None else 0,
        mode="offline",
        owners=desired.owners,
        changes=tuple(changes) + tuple(reversed(removals)),
        diagnostics=desired.diagnostics,
        settings=(settings or PlanSettings()).with_render_facts(desired.settings),
    )
