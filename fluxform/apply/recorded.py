"""What `fluxform rollback --to SERIAL` restores: a revision the state recorded, the git commit
it was applied from, and the digest of every object it applied (issue 19, item 3).

A rollback must bring back the past, not a new present: the commit is rendered again, and
every object the revision recorded must come out with the digest recorded then. A different
decryption key, a chart that moved under the same version, an environment-dependent
substitution: any of them changes a digest, and the rollback is refused naming the object.

    revision = revision_to_restore(state, serial=None)     # default: the last completed apply before
    restore = Restore.of(state, revision, reason="bad release")
    check_recorded(desired, restore, mask)                 # PlanError naming the first mismatch
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from fluxform.errors import PlanError, StateError
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Masking
from fluxform.state.model import PENDING_DIGEST, OwnerState, Revision, RolledBack, StateFile, canonical_digest, utc_now

__all__ = ["Restore", "check_recorded", "pinned_artifact", "revision_source", "revision_to_restore"]

_LISTED = 3


@dataclass(frozen=True)
class Restore:
    """The revision a rollback restores, and the one it rolls the cluster away from."""

    serial: int  # the state serial restored
    commit: str  # the git commit that serial was applied from
    owners: Mapping[ObjectId, OwnerState]  # what it recorded (inventories and digests)
    away_from: RolledBack  # the current source revision, marked rolled back (serial set when written)
    shown_as: str = ""  # how the plan names what it renders ("clusters/prod at commit 1a2b3c...")

    @classmethod
    def of(cls, state: StateFile, revision: Revision, reason: str) -> Restore:
        current = state.as_revision()
        away = RolledBack(
            source_revision=_away_from(current.owners, _source_of(revision.owners)),
            source_commit=current.source_commit,
            serial=0,
            at=utc_now(),
            reason=reason or f"rolled back to serial {revision.serial}",
        )
        return cls(revision.serial, revision.source_commit, revision.owners, away)


def revision_to_restore(state: StateFile, serial: int | None) -> Revision:
    """Serial `serial` of the state (the current one excepted); by default the newest earlier
    revision a complete apply (or rollback) wrote from another source revision than the
    current one: failed, rolled-back and in-progress revisions are never a target."""
    if serial is not None:
        if serial == state.serial:
            raise StateError(f"serial {serial} is the state's current revision: nothing to roll back to")
        found = next((r for r in state.history if r.serial == serial), None)
        if found is None:
            kept = ", ".join(str(r.serial) for r in state.history) or "none"
            raise StateError(
                f"state serial {serial} is not recorded (the state keeps serials {kept} and {state.serial})",
                hint="see `fluxform state history`; the history keeps state.historyLimit revisions",
            )
        return found
    now = _source_of(state.owners)
    for revision in reversed(state.history):
        if _complete(revision.operation) and _source_of(revision.owners) != now:
            return revision
    raise StateError(
        "the state records no earlier complete apply of another source revision to roll back to",
        hint="name one with --to SERIAL",
    )


def check_recorded(desired: DesiredState, restore: Restore, mask: Masking) -> None:
    """Every object the restored revision recorded must render again with the digest it had."""
    rendered = desired.objects()
    problems: list[str] = []
    for owner in sorted(restore.owners):
        for recorded in restore.owners[owner].objects:
            if recorded.digest == PENDING_DIGEST:
                continue  # never confirmed applied: nothing to compare with
            obj = rendered.get(recorded.id)
            if obj is None:
                problems.append(f"{recorded.id} is not rendered at commit {restore.commit[:12]}")
            elif canonical_digest(mask(obj.body, obj.sensitive_paths)) != recorded.digest:
                problems.append(f"{recorded.id} renders differently than serial {restore.serial} recorded")
    if problems:
        more = f" (and {len(problems) - _LISTED} more)" if len(problems) > _LISTED else ""
        raise PlanError(
            f"rollback to serial {restore.serial} refused: {'; '.join(problems[:_LISTED])}{more}",
            hint="a rollback restores what was applied then; a changed decryption key, chart or substitution "
            "makes the render differ. Plan and apply the commit yourself if that is what you want",
        )


def revision_source(revision: Revision) -> str:
    """The source revision a state revision's owners were applied from."""
    return _source_of(revision.owners)


def pinned_artifact(source_revision: str) -> str | None:
    """The OCI artifact a source revision names, pinned to its digest (`oci://host/repo@sha256:…`,
    the tag dropped: it has likely moved on since; `FILE.tar@sha256:…`), or None (a git
    checkout's content digest)."""
    reference, sep, digest = source_revision.rpartition("@")
    if not sep or not reference or not digest.startswith("sha256:"):
        return None
    if reference.startswith("oci://"):
        from fluxform.sources.oci.reference import parse_artifact_ref

        reference = str(replace(parse_artifact_ref(reference), tag=""))
    return f"{reference}@{digest}"


def _complete(operation: str) -> bool:
    return operation == "apply" or re.fullmatch(r"rollback to serial \d+", operation) is not None


def _away_from(owners: Mapping[ObjectId, OwnerState], restored: str) -> str:
    """The source revision the current owners were applied from, other than the restored one
    (owners of an apply killed mid-way carry either the one it started from or the one it was
    applying; several others are joined, and then match no plan)."""
    newer = sorted({o.source_revision for o in owners.values() if o.source_revision and o.source_revision != restored})
    return newer[0] if len(newer) == 1 else ",".join(newer)


def _source_of(owners: Mapping[ObjectId, OwnerState]) -> str:
    """The source revision a revision's owners were applied from (the newest when they differ)."""
    revisions = sorted({o.source_revision for o in owners.values() if o.source_revision})
    return revisions[-1] if len(revisions) == 1 else ",".join(revisions)
