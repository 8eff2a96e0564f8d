"""The state, written as an apply goes (the write order of Timoni and kubectl's ApplySet).

Before an owner's first write its record lists the union of its old and new inventory (new
objects with the `pending` digest: they may or may not exist yet); after its apply, health
checks and prune succeed, the record shrinks to the new inventory. So whenever the process
dies, the state names every object fluxform may have created or changed: the next plan shows
the truth, the next apply converges, and nothing is forgotten or orphaned.

Only what keeps that promise is written at once: a pending record that adds objects, and a
record that drops objects (pruned, forgotten). A settled record listing the same objects (new
digests instead of `pending`, or an owner that only updated) waits for the next write: the
stored one already names everything (each write of a 1,000-object state costs ~0.1 s).

The first write of a run moves the state as it was into history (one history entry per
apply, whatever the number of owners); later writes replace the current revision; the last
one is marked `apply`. Writes are serialised: owners apply concurrently, the state is one.

    recorder = StateRecorder(backend, state, by=lock.who)
    recorder.pending(owner_id, new_ids, template)
    recorder.settle(owner_id, record)
    final = recorder.finish(owners, actions=actions)
    after = recorder.append(restored_owners, operation="apply (rolled back)", actions=steps)
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
    ActionRecord,
    OwnerState,
    RolledBack,
    StateFile,
    StateObject,
    next_revision,
    utc_now,
)

__all__ = ["IN_PROGRESS", "StateRecorder"]

IN_PROGRESS = "apply (in progress)"


class StateRecorder:
    def __init__(
        self,
        backend: StateBackend,
        base: StateFile,
        *,
        by: str,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        source_commit: str = "",
    ) -> None:
        self.backend = backend
        self.source_commit = source_commit  # the commit being applied: recorded from the first write on
        self.current = base  # the state as last stored
        self.by = by
        self.history_limit = history_limit
        self.writes = 0
        self._owners: dict[ObjectId, OwnerState] = dict(base.owners)  # newest records, stored or not
        self._started = False
        self._lock = threading.Lock()

    def owner(self, owner_id: ObjectId) -> OwnerState | None:
        with self._lock:
            return self._owners.get(owner_id)

    def owners(self) -> dict[ObjectId, OwnerState]:
        with self._lock:
            return dict(self._owners)

    def pending(self, owner_id: ObjectId, new: Sequence[tuple[ObjectId, str]], template: OwnerState) -> None:
        """Record the union of the owner's old inventory and `new` (id, apiVersion) before
        its first write; `template` is the record to start from when the state has none.
        Nothing is written when the state already lists them all (an owner only updating)."""
        with self._lock:
            old = self._owners.get(owner_id)
            objects = list(old.objects if old is not None else ())
            known = {o.id for o in objects}
            added = [StateObject(oid, api, PENDING_DIGEST, None) for oid, api in new if oid not in known]
            if not added and old is not None:
                return
            # the source revision being applied: a run killed now leaves a state saying what it was applying
            record = old if old is not None else template
            self._owners[owner_id] = replace(
                record, objects=(*objects, *added), source_revision=template.source_revision
            )
            self._write(IN_PROGRESS)

    def settle(self, owner_id: ObjectId, record: OwnerState | None) -> None:
        """The owner's new record once it is applied (None: it left the state). Written at
        once when its inventory shrank (pruned, forgotten) or the owner left; otherwise kept
        for the next write: the stored record already lists every object it holds."""
        with self._lock:
            before = self._owners.get(owner_id)
            if record is None:
                self._owners.pop(owner_id, None)
            else:
                self._owners[owner_id] = record
            if record is None or before is None or {o.id for o in record.objects} != {o.id for o in before.objects}:
                self._write(IN_PROGRESS)

    def finish(
        self,
        owners: Mapping[ObjectId, OwnerState],
        *,
        operation: str = "apply",
        actions: Sequence[ActionRecord] = (),
        source_commit: str | None = None,
        rolled_back: RolledBack | None = None,
    ) -> StateFile:
        """The last write of the apply: every owner's record as the apply left it, what it
        did object by object, and the git commit it rendered (None: unknown, kept);
        `rolled_back`: a source revision this write rolls the cluster away from (its serial
        becomes this write's)."""
        with self._lock:
            self._owners = dict(owners)
            self._write(operation, tuple(actions), source_commit, rolled_back)
            return self.current

    def append(
        self,
        owners: Mapping[ObjectId, OwnerState],
        *,
        operation: str,
        actions: Sequence[ActionRecord] = (),
        source_commit: str | None = None,
    ) -> StateFile:
        """A further revision after the apply's own (its rollback): the apply's stays in history."""
        with self._lock:
            self._owners = dict(owners)
            self._started = False
            self._write(operation, tuple(actions), source_commit)
            return self.current

    def _write(
        self,
        operation: str,
        actions: tuple[ActionRecord, ...] = (),
        source_commit: str | None = None,
        rolled_back: RolledBack | None = None,
    ) -> None:
        if not self._started:
            state = next_revision(
                self.current,
                self._owners,
                operation=operation,
                by=self.by,
                history_limit=self.history_limit,
                actions=actions,
            )
            self._started = True
        else:
            state = replace(
                self.current, owners=dict(self._owners), operation=operation, written_at=utc_now(), actions=actions
            )
        if source_commit is None and self.source_commit:
            source_commit = self.source_commit
        if source_commit is not None:
            state = replace(state, source_commit=source_commit)
        if rolled_back is not None:
            entry = replace(rolled_back, serial=self.current.serial + 1)  # the backend bumps the serial by one
            state = replace(state, rolled_back=(*state.rolled_back, entry))
        self.current = self.backend.write(state)
        self.writes += 1
