"""Source revisions `fluxform rollback` rolled the cluster away from: kept in the state, so
planning one again says so and applying it again needs --retry-rolled-back.

    note = rolled_back_note(state, desired.source_revision)   # "" or the warning
"""

from __future__ import annotations

from fluxform.state.model import RolledBack, StateFile

__all__ = ["rolled_back_entry", "rolled_back_note"]


def rolled_back_entry(state: StateFile | None, source_revision: str) -> RolledBack | None:
    """The newest record of `source_revision` being rolled back, if any."""
    if state is None or not source_revision:
        return None
    found = [r for r in state.rolled_back if r.source_revision == source_revision]
    return found[-1] if found else None


def rolled_back_note(state: StateFile | None, source_revision: str) -> str:
    entry = rolled_back_entry(state, source_revision)
    if entry is None:
        return ""
    commit = f" (commit {entry.source_commit[:12]})" if entry.source_commit else ""
    return (
        f"this source revision{commit} was rolled back at serial {entry.serial}: {entry.reason}; "
        "applying it again needs --retry-rolled-back"
    )
