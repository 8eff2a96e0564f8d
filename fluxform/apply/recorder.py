"""The state, written as an apply goes (the write order of Timoni and kubectl's ApplySet).

Before an owner's first write its record lists the union of its old and new inventory (new
objects with the `pending` digest: they may or may not exist yet); after its apply, health
checks and prune succeed, the record shrinks to the new inventory. So whenever the process
dies, the state names every object fluxform may have created or changed: the next plan shows
the truth, the next apply converges, and nothing is forgotten or orphaned.

The first write of a run moves the state as it was into history (one history entry per
apply, whatever the number of owners); later writes replace the current revision; the last
one is marked `apply`. Writes are serialised: owners apply concurrently, the state is one.

    recorder = StateRecorder(backend, state, by=lock.who)
    recorder.pending(owner_id, new_ids, template)
    recorder.settle(owner_id, record)
    final = recorder.finish(owners)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace

from fluxform.objects import ObjectId
from fluxform.state.backend import StateBackend
from fluxform.state.model import (
    DEFAULT_HISTORY_LIMIT,
    PENDING_DIGEST,
    OwnerState,
    StateFile,
    StateObject,
    next_revision,
    utc_now,
)

__all__ = ["IN_PROGRESS", "StateRecorder"]

IN_PROGRESS = "apply (in progress)"


class StateRecorder:
    def __init__(
        self, backend: StateBackend, base: StateFile, *, by: str, history_limit: int = DEFAULT_HISTORY_LIMIT
    ) -> None:
        self.backend = backend
        self.current = base
        self.by = by
        self.history_limit = history_limit
        self.writes = 0
        self._started = False
        self._lock = threading.Lock()

    def owner(self, owner_id: ObjectId) -> OwnerState | None:
        with self._lock:
            return self.current.owners.get(owner_id)

    def pending(self, owner_id: ObjectId, new: Sequence[tuple[ObjectId, str]], template: OwnerState) -> None:
        """Record the union of the owner's old inventory and `new` (id, apiVersion) before
        its first write; `template` is the record to start from when the state has none."""
        with self._lock:
            old = self.current.owners.get(owner_id)
            objects = list(old.objects if old is not None else ())
            known = {o.id for o in objects}
            objects += [StateObject(oid, api, PENDING_DIGEST, None) for oid, api in new if oid not in known]
            record = replace(old if old is not None else template, objects=tuple(objects))
            self._write({**self.current.owners, owner_id: record}, IN_PROGRESS)

    def settle(self, owner_id: ObjectId, record: OwnerState | None) -> None:
        """The owner's new record once it is applied (None: it left the state)."""
        with self._lock:
            owners = dict(self.current.owners)
            if record is None:
                owners.pop(owner_id, None)
            else:
                owners[owner_id] = record
            self._write(owners, IN_PROGRESS)

    def finish(self, owners: Mapping[ObjectId, OwnerState], *, operation: str = "apply") -> StateFile:
        """The last write: every owner's record as the apply left it."""
        with self._lock:
            self._write(dict(owners), operation)
            return self.current

    def _write(self, owners: Mapping[ObjectId, OwnerState], operation: str) -> None:
        if not self._started:
            state = next_revision(
                self.current, owners, operation=operation, by=self.by, history_limit=self.history_limit
            )
            self._started = True
        else:
            state = replace(self.current, owners=dict(owners), operation=operation, written_at=utc_now())
        self.current = self.backend.write(state)
        self.writes += 1
