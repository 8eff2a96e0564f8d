"""Every object an apply is about to change or delete, as it was just before: the pre-images
rollback restores (issue 19), kept in memory only, and the journal of those writes beside the
state.

A pre-image is read from the cluster immediately before its write, so it is what the write
replaced, whoever changed it last. It may be a Secret: it stays in this process's memory and
is never written anywhere. The journal (one JSON line per write, fsynced before the write is
sent) holds only ids, the action and a keyed digest of the masked pre-image: enough for the
next run to know what an apply killed with -9 was doing, nothing to leak.

    touched = PreImages(journal)
    touched.record(Touched(owner, ref, "update", pre_image=live), digest=masked_digest)
    touched.record_release(TouchedRelease(request, 3, "deployed"))   # before Helm acts
    touched.items()          # in write order (objects and releases)
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fluxform.apply.releases import TouchedRelease
from fluxform.cluster.ref import ObjectRef
from fluxform.errors import WriteError
from fluxform.objects import ObjectId
from fluxform.state.model import utc_now

__all__ = ["ApplyJournal", "JournalFile", "PreImages", "Touched", "TouchedRelease", "Write", "WriteAction"]

WriteAction = str  # "create" | "update" | "recreate" | "delete"


@dataclass(frozen=True)
class Touched:
    """One write an apply made (or was about to make)."""

    owner: ObjectId
    ref: ObjectRef
    action: WriteAction
    pre_image: Mapping[str, Any] | None = field(repr=False)  # None: the object did not exist

    @property
    def id(self) -> ObjectId:
        return self.ref.object_id


#: one write of an apply: an object's, or a Helm release's (install/upgrade)
Write = Touched | TouchedRelease


class ApplyJournal(Protocol):
    """Where each write is noted before it is sent (no values)."""

    def record(self, entry: Mapping[str, Any]) -> None: ...


class JournalFile:
    """JSON lines in a private file beside the state; each line fsynced before the write it
    announces. `close(done=True)` removes it: a journal left behind means an interrupted run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None

    def leftover(self) -> list[dict[str, Any]]:
        """The entries an earlier, interrupted run left (unreadable lines skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise WriteError(f"cannot read the apply journal {self.path}", detail=exc.strerror or str(exc)) from exc
        entries = []
        for line in lines:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def start(self) -> None:
        """Begin this run's journal (an earlier run's is replaced)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        except OSError as exc:
            raise WriteError(f"cannot write the apply journal {self.path}", detail=exc.strerror or str(exc)) from exc

    def record(self, entry: Mapping[str, Any]) -> None:
        line = (json.dumps({**entry, "at": utc_now()}, sort_keys=True) + "\n").encode()
        with self._lock:
            if self._fd is None:
                return
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self, *, done: bool) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if done:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()


class PreImages:
    """The pre-images of one run, in write order; thread-safe (owners apply concurrently)."""

    def __init__(self, journal: ApplyJournal | None = None, run_id: str = "") -> None:
        self.journal = journal
        self.run_id = run_id
        self._items: list[Write] = []
        self._lock = threading.Lock()

    def record(self, touched: Touched, *, digest: str) -> None:
        """Note a write about to be sent; `digest` is of the masked pre-image ("" when absent)."""
        if self.journal is not None:
            self.journal.record(
                {
                    "run": self.run_id,
                    "owner": touched.owner.inventory_id(),
                    "id": touched.id.inventory_id(),
                    "api_version": touched.ref.mapping.api_version,
                    "action": touched.action,
                    "pre_image": digest or None,
                }
            )
        with self._lock:
            self._items.append(touched)

    def record_release(self, touched: TouchedRelease) -> None:
        """Note a Helm release about to be installed or upgraded, with the revision it had."""
        if self.journal is not None:
            self.journal.record(
                {
                    "run": self.run_id,
                    "owner": touched.owner.inventory_id(),
                    "id": touched.owner.inventory_id(),
                    "action": "release",
                    "revision_before": touched.revision_before,
                }
            )
        with self._lock:
            self._items.append(touched)

    def items(self) -> list[Write]:
        with self._lock:
            return list(self._items)

    def of_owner(self, owner: ObjectId) -> list[Write]:
        return [t for t in self.items() if t.owner == owner]
