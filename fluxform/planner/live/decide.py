"""One object's change against the live cluster: the decisions of a live plan, kept apart from
the reads and requests that gather their facts (planner/live/workflow.py).

Manifests arriving here are already masked (Secret values are fingerprints), so every
comparison and everything stored in a change is plaintext-free.

    facts = ObjectFacts(obj, masked, recorded, mapping, live, ...)
    decision = decide(facts, dry_run)          # LiveChange + optional drift entry + warnings
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fluxform.cluster.clientside import covers, dropped_fields, predict
from fluxform.cluster.dryrun import DryRun
from fluxform.cluster.mapping import KindMapping, Unmapped
from fluxform.cluster.normalize import comparable, drifted
from fluxform.errors import Diagnostic
from fluxform.objects import ObjectId
from fluxform.planner.live.policy import force_enabled, owner_mismatch, prune_blocked, skip_reason
from fluxform.planner.model import DesiredObject, Owner, OwnerStatus
from fluxform.planner.plan import Action, Change
from fluxform.state.model import PENDING_DIGEST, OwnerState, StateObject, canonical_digest

__all__ = [
    "Decision",
    "LiveChange",
    "NamespaceState",
    "ObjectFacts",
    "decide",
    "decide_removal",
    "live_key",
    "needs_dry_run",
]

CLIENT_SIDE = "client-side comparison (dry-run forbidden)"


@dataclass(frozen=True)
class LiveChange(Change):
    """A Change read against the cluster. `before`/`after` are for review (live object vs
    dry-run result, server noise removed); `desired` is the masked manifest apply sends;
    `live_resource_version` is always read ("" = absent), so apply can refuse a stale plan."""

    live_resource_version: str | None = ""


class NamespaceState(StrEnum):
    EXISTS = "exists"
    PLANNED = "planned"  # absent, created by this plan
    MISSING = "missing"  # absent and not in the plan: apply will fail
    UNKNOWN = "unknown"  # namespaces could not be listed, or the kind is cluster-scoped


@dataclass(frozen=True)
class ObjectFacts:
    obj: DesiredObject
    masked: dict[str, Any] = field(repr=False)  # the desired manifest, masked
    recorded: tuple[OwnerState, StateObject] | None
    mapping: KindMapping | Unmapped
    live: dict[str, Any] | None = field(repr=False)  # masked; None when absent (or unread)
    read_failure: str  # "" when the live object's type could be listed
    manager: str
    namespace: NamespaceState = NamespaceState.UNKNOWN
    owner_forces: bool = False  # the owning Kustomization has spec.force: true


@dataclass(frozen=True)
class Decision:
    change: LiveChange
    drift: Change | None = None
    diagnostics: tuple[Diagnostic, ...] = ()


def needs_dry_run(facts: ObjectFacts, *, always: bool = False) -> bool:
    """Dry-run only what could change: an existing object whose every desired field is
    already live, with no previously applied field dropped, cannot change (clientside.py)."""
    mapping = facts.mapping
    if isinstance(mapping, Unmapped) or not mapping.served or facts.read_failure:
        return False
    if skip_reason(facts.masked, facts.live):
        return False
    if facts.live is None:
        return facts.namespace in (NamespaceState.EXISTS, NamespaceState.UNKNOWN)
    if always:
        return True
    return not covers(facts.masked, facts.live) or bool(dropped_fields(facts.live, facts.masked, facts.manager))


def decide(facts: ObjectFacts, dry: DryRun | None) -> Decision:
    if isinstance(facts.mapping, Unmapped):
        return _offline(facts, facts.mapping.reason)
    if facts.read_failure:
        return _offline(facts, f"live object not readable ({facts.read_failure})")
    skip = skip_reason(facts.masked, facts.live)
    if skip:
        return Decision(_change(facts, Action.NOOP, None, facts.masked, skip))
    if facts.live is None:
        return _create(facts, dry)
    return _existing(facts, dry)


def _change(
    facts: ObjectFacts,
    action: Action,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str = "",
) -> LiveChange:
    obj = facts.obj
    live_rv = str(((facts.live or {}).get("metadata") or {}).get("resourceVersion") or "")
    adopted = facts.live is not None and facts.recorded is None
    if adopted:
        reason = _join("adopts it: exists in the cluster but not in the state", reason)
    return LiveChange(obj.id, obj.api_version, obj.owner, action, before, after, reason, live_rv, facts.masked, adopted)


def _offline(facts: ObjectFacts, why: str) -> Decision:
    """No live read possible: compare with the state, as the offline plan does."""
    if facts.recorded is None:
        return Decision(_change(facts, Action.CREATE, None, facts.masked, why))
    previous = facts.recorded[1]
    if previous.digest == canonical_digest(facts.masked):
        return Decision(_change(facts, Action.NOOP, previous.manifest, facts.masked, why))
    return Decision(_change(facts, Action.UPDATE, previous.manifest, facts.masked, why))


def _create(facts: ObjectFacts, dry: DryRun | None) -> Decision:
    assert isinstance(facts.mapping, KindMapping)
    reasons: list[str] = []
    notes: list[Diagnostic] = []
    namespace = str((facts.obj.body.get("metadata") or {}).get("namespace") or "")
    if not facts.mapping.served:
        reasons.append("its CustomResourceDefinition is created by this plan")
    missing = facts.namespace is NamespaceState.MISSING or (dry is not None and _missing_namespace(dry))
    if missing:
        notes.append(_no_namespace(namespace))
    elif dry is not None and dry.failure is not None and not dry.failure.is_forbidden:
        notes.append(Diagnostic(f"the API server refuses it, apply will fail: {dry.failure.message}", facts.obj.id))
    drift = None
    if facts.recorded is not None and facts.recorded[1].digest == PENDING_DIGEST:
        reasons.append("an interrupted apply recorded it as pending and did not create it")
    elif facts.recorded is not None:
        owner_state, previous = facts.recorded
        reasons.append("re-creates it: deleted outside of fluxform")
        drift = Change(
            previous.id, previous.api_version, owner_state.id, Action.DELETE, previous.manifest, None,
            "deleted outside of fluxform",
        )  # fmt: skip
    change = _change(facts, Action.CREATE, None, facts.masked, "; ".join(reasons))
    return Decision(change, drift, tuple(notes))


def _missing_namespace(dry: DryRun) -> bool:
    return dry.failure is not None and dry.failure.is_missing_namespace


def _no_namespace(namespace: str) -> Diagnostic:
    return Diagnostic(
        f"namespace {namespace} does not exist and this plan does not create it: applying into it will fail"
    )


def _existing(facts: ObjectFacts, dry: DryRun | None) -> Decision:
    live = facts.live
    assert live is not None
    notes: list[Diagnostic] = []
    if dry is None:
        return Decision(_change(facts, Action.NOOP, None, facts.masked))
    if dry.failure is None:
        assert dry.result is not None
        if not drifted(live, dry.result):
            return Decision(_change(facts, Action.NOOP, None, facts.masked))
        action, after, reason = Action.UPDATE, comparable(dry.result), ""
    elif dry.failure.is_immutable:
        action, after = Action.REPLACE, predict(live, facts.masked, facts.manager)
        reason = f"{', '.join(dry.failure.immutable_fields()) or 'a field'} cannot change (immutable)"
        if not (facts.owner_forces or force_enabled(facts.masked, live)):
            reason += "; Flux would only recreate it with kustomize.toolkit.fluxcd.io/force: enabled or spec.force"
    else:
        if not dry.failure.is_forbidden:
            notes.append(Diagnostic(f"dry-run refused, apply will fail: {dry.failure.message}", facts.obj.id))
        if covers(facts.masked, live) and not dropped_fields(live, facts.masked, facts.manager):
            return Decision(_change(facts, Action.NOOP, None, facts.masked), diagnostics=tuple(notes))
        action, after, reason = Action.UPDATE, predict(live, facts.masked, facts.manager), CLIENT_SIDE
    before = comparable(live)
    drift = _drift(facts, before, after)
    if drift is not None:
        reason = _join(reason, "reverts changes made outside of fluxform")
    return Decision(_change(facts, action, before, after, reason), drift, tuple(notes))


def _drift(facts: ObjectFacts, live: Mapping[str, Any], applied: Mapping[str, Any]) -> Change | None:
    """Live differs although this object's desired manifest is what was last applied:
    someone changed it outside of fluxform. Shown from the applied form to the live one."""
    if facts.recorded is None:
        return None
    owner_state, previous = facts.recorded
    if owner_state.id != facts.obj.owner or previous.digest != canonical_digest(facts.masked):
        return None
    obj = facts.obj
    return Change(obj.id, obj.api_version, obj.owner, Action.UPDATE, applied, live, "changed outside of fluxform")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def decide_removal(
    owner_state: OwnerState,
    previous: StateObject,
    desired_owner: Owner | None,
    live: Mapping[str, Any] | None,
    read_failure: str,
) -> Change | None:
    """A recorded object the repo no longer renders (flux-semantics 4.6). None: left alone
    (its owner is suspended or could not be rendered, as Flux touches nothing then)."""
    if desired_owner is not None and desired_owner.status is not OwnerStatus.BUILT:
        return None
    prune = desired_owner.prune if desired_owner is not None else owner_state.prune
    gone = "" if desired_owner is not None else f"; {owner_state.id} itself was removed"
    keep = prune_blocked(live) or prune_blocked(previous.manifest)
    if read_failure:
        action = Action.DELETE if prune and not keep else Action.FORGET
        reason = f"live object not readable ({read_failure})"
    elif live is None:
        action, reason = Action.FORGET, "already gone from the cluster"
    elif keep:
        action, reason = Action.FORGET, keep
    elif mismatch := owner_mismatch(live, owner_state.id):
        action, reason = Action.FORGET, mismatch
    elif not prune:
        action, reason = Action.FORGET, f"{owner_state.id} has prune: false"
    else:
        action, reason = Action.DELETE, f"no longer rendered by {owner_state.id}{gone}"
    rv = str(((live or {}).get("metadata") or {}).get("resourceVersion") or "")
    # `before` is the state's masked manifest, never the live object: the state knows which of
    # its values were secret, a live read of a dropped object does not.
    return LiveChange(previous.id, previous.api_version, owner_state.id, action, previous.manifest, None, reason, rv)


def live_key(obj_id: ObjectId, mapping: KindMapping | Unmapped) -> ObjectId:
    """Where the live object is found: cluster-scoped kinds have no namespace, whatever the
    manifest says (the client drops it)."""
    if isinstance(mapping, KindMapping) and not mapping.namespaced and obj_id.namespace:
        return ObjectId("", obj_id.name, obj_id.group, obj_id.kind)
    return obj_id
