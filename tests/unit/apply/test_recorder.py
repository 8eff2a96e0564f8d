"""The state written as an apply goes: pending inventory (old and new) before an owner's first
write, the new inventory after it, one history entry for the whole apply."""

from __future__ import annotations

from pathlib import Path

from fluxform.apply.recorder import IN_PROGRESS, StateRecorder
from fluxform.objects import ObjectId
from fluxform.state.local import LocalBackend
from fluxform.state.model import PENDING_DIGEST, OwnerState, new_state, next_revision
from tests.support.ids import ks
from tests.support.states import deployment, owner, state_object

APPS, INFRA = ks("apps"), ks("infra")
OLD = state_object(deployment("demo", "old", "1.0"))
KEPT = state_object(deployment("demo", "kept", "1.0"))
NEW_ID = ObjectId("demo", "new", "apps", "Deployment")


def test_pending_then_settle_then_finish(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state.json")
    first = backend.write(
        next_revision(new_state("test"), {APPS: owner("apps", [OLD, KEPT])}, operation="apply", by="t")
    )
    recorder = StateRecorder(backend, first, by="me")

    recorder.pending(APPS, [(KEPT.id, "apps/v1"), (NEW_ID, "apps/v1")], owner("apps", []))
    pending = backend.read()
    assert pending is not None and pending.serial == first.serial + 1
    assert pending.operation == IN_PROGRESS
    objects = {o.id: o for o in pending.owners[APPS].objects}
    assert set(objects) == {OLD.id, KEPT.id, NEW_ID}  # old and new: everything that may exist
    assert objects[NEW_ID].digest == PENDING_DIGEST and objects[NEW_ID].manifest is None
    assert objects[OLD.id] == OLD  # the old record stands until the owner is applied
    assert [h.serial for h in pending.history] == [first.serial]  # the state before the apply

    settled = OwnerState(APPS, True, "rev", "now", "me", (KEPT,))
    recorder.settle(APPS, settled)  # shrank: written at once
    shrunk = backend.read()
    assert shrunk is not None and shrunk.owners[APPS].objects == (KEPT,) and recorder.writes == 2
    recorder.pending(INFRA, [(OLD.id, "apps/v1")], owner("infra", []))
    recorder.pending(INFRA, [(OLD.id, "apps/v1")], owner("infra", []))  # nothing new: no write
    assert recorder.writes == 3
    relisted = OwnerState(INFRA, True, "rev", "now", "me", (OLD,))
    recorder.settle(INFRA, relisted)  # the same objects: kept for the next write
    assert recorder.writes == 3 and recorder.owner(INFRA) == relisted
    stored_infra = backend.read()
    assert stored_infra is not None and stored_infra.owners[INFRA].objects[0].digest == PENDING_DIGEST
    final = recorder.finish(recorder.owners())
    stored = backend.read()
    assert stored == final
    assert final.serial == first.serial + 4 and final.operation == "apply"
    assert final.owners[APPS].objects == (KEPT,) and final.owners[INFRA] == relisted
    assert [h.serial for h in final.history] == [first.serial]  # one entry for the whole apply, not one per write


def test_settle_none_drops_an_owner_that_left_the_fleet(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "state.json")
    first = backend.write(next_revision(new_state("test"), {APPS: owner("apps", [OLD])}, operation="apply", by="t"))
    recorder = StateRecorder(backend, first, by="me")
    recorder.settle(APPS, None)
    stored = backend.read()
    assert stored is not None and APPS not in stored.owners
