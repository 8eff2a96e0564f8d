"""The proof that fluxform started a Helm action: one journal record, written before each
action on a release (install, upgrade, rollback, uninstall), naming the run, the release and
the revision it had before. No values, no manifests.

A Helm release found `pending-install|upgrade|rollback` is locked: Helm refuses to act on it,
and something may still be acting. helm-controller unlocks any pending release it finds;
fluxform does so only for a release its own interrupted run left (a journal record for the
release whose revision before is older than the pending revision), and under the state lock,
so it never breaks an action another Helm client has under way.

The apply executor owns the journal's lifetime (kept beside the state, removed when an apply
completes); `JournalFile` is a simple durable implementation of the `ReleaseJournal` protocol.

    journal.record(ReleaseRecord.started("run-1", ref, "upgrade", revision_before=3, owner=hr.id))
    proof = proving_record(journal.entries(), ref, pending_revision=4)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from fluxform.errors import StateError
from fluxform.objects import ObjectId
from fluxform.private_file import write_private
from fluxform.state.model import utc_now

__all__ = ["JournalFile", "ReleaseJournal", "ReleaseRecord", "proving_record"]

OPERATIONS = ("install", "upgrade", "rollback", "uninstall")


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    run_id: str  # the apply (or rollback) run that acted
    owner: str  # the HelmRelease, "namespace/name"
    release: str  # Helm release name
    namespace: str  # release namespace
    storage_namespace: str  # where Helm keeps its records
    operation: str  # install | upgrade | rollback | uninstall (the first action; remediation may follow)
    revision_before: int | None  # latest revision before the action (None: no release)
    at: str  # RFC 3339 UTC

    @classmethod
    def started(
        cls,
        run_id: str,
        owner: ObjectId,
        release: str,
        namespace: str,
        storage_namespace: str,
        operation: str,
        revision_before: int | None,
    ) -> ReleaseRecord:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown Helm operation {operation!r}")
        return cls(
            run_id,
            f"{owner.namespace}/{owner.name}",
            release,
            namespace,
            storage_namespace,
            operation,
            revision_before,
            utc_now(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReleaseRecord:
        raw = json.loads(text)
        return cls(**raw)


class ReleaseJournal(Protocol):
    """Where the records of a run go; `record` must be durable when it returns."""

    def record(self, entry: ReleaseRecord) -> None: ...

    def entries(self) -> Sequence[ReleaseRecord]: ...


def proving_record(
    entries: Sequence[ReleaseRecord], storage_namespace: str, release: str, pending_revision: int
) -> ReleaseRecord | None:
    """The record proving fluxform left `release` pending at `pending_revision`: the latest
    one for that release whose revision before is older (a run that started from there and
    was interrupted while Helm wrote the pending revision). None: no proof."""
    for entry in reversed(entries):
        if entry.release != release or entry.storage_namespace != storage_namespace:
            continue
        if (entry.revision_before or 0) < pending_revision:
            return entry
    return None


class JournalFile:
    """Records as JSON lines in one private file, rewritten whole and atomically per record
    (private_file): a crash leaves the file with or without the new line, never half of it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, entry: ReleaseRecord) -> None:
        lines = [e.to_json() for e in self.entries()] + [entry.to_json()]
        write_private(self.path, "\n".join(lines) + "\n", what="apply journal")

    def entries(self) -> list[ReleaseRecord]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(f"cannot read the apply journal {self.path}", detail=exc.strerror or str(exc)) from exc
        try:
            return [ReleaseRecord.from_json(line) for line in text.splitlines() if line.strip()]
        except (ValueError, TypeError) as exc:
            raise StateError(f"the apply journal {self.path} is damaged", detail=str(exc)) from exc
