"""Record a plan's desired objects as an applied state, the way apply will (tests only:
apply lands in a later wave; this writes through the real state model and backend)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fluxform.objects import ObjectId
from fluxform.state.local import LocalBackend
from fluxform.state.model import OwnerState, StateFile, StateObject, canonical_digest, new_state, next_revision


def record_plan(plan_file: Path, state_file: Path, *, mask_key: str, state: StateFile | None = None) -> StateFile:
    data: dict[str, Any] = json.loads(plan_file.read_text())
    objects: dict[str, list[StateObject]] = {o["inventory_id"]: [] for o in data["owners"]}
    for change in data["changes"]:
        if change["action"] in ("delete", "forget"):
            continue
        after = change["after"]
        oid = ObjectId(change["namespace"], change["name"], change["api_version"].rpartition("/")[0], change["kind"])
        objects.setdefault(change["owner_id"], []).append(
            StateObject(oid, change["api_version"], canonical_digest(after), after)
        )
    owners = {
        ObjectId.parse(key): OwnerState(
            ObjectId.parse(key), True, data["source"]["revision"], "2026-01-01T00:00:00Z", "test", tuple(objs)
        )
        for key, objs in objects.items()
    }
    base = state or new_state("test", mask_key=mask_key)
    backend = LocalBackend(state_file)
    return backend.write(next_revision(base, owners, operation="apply", by="test"))
