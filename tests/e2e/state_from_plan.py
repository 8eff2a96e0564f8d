"""Record a plan file's desired objects as an applied state, the way apply will (tests only:
apply lands in a later wave; this reads the typed plan file and writes through the real state
model and backend, so it also shows the plan file carries what apply records)."""

from __future__ import annotations

from pathlib import Path

from fluxform.objects import ObjectId
from fluxform.planner.plan import Action
from fluxform.planner.planfile import read_plan_file
from fluxform.state.local import LocalBackend
from fluxform.state.model import OwnerState, StateFile, StateObject, new_state, next_revision


def record_plan(plan_file: Path, state_file: Path, *, mask_key: str, state: StateFile | None = None) -> StateFile:
    plan = read_plan_file(plan_file)
    objects: dict[ObjectId, list[StateObject]] = {o.id: [] for o in plan.owners}
    for change in plan.changes:
        if change.action in (Action.DELETE, Action.FORGET) or change.desired is None:
            continue
        objects.setdefault(change.owner, []).append(
            StateObject(change.id, change.api_version, change.digest, change.desired)
        )
    owners = {
        oid: OwnerState(oid, True, plan.source.revision, "2026-01-01T00:00:00Z", "test", tuple(objs))
        for oid, objs in objects.items()
    }
    base = state or new_state("test", mask_key=mask_key)
    backend = LocalBackend(state_file)
    return backend.write(next_revision(base, owners, operation="apply", by="test"))
