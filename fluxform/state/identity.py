"""Whose state is this? A plan against the state of another cluster or fleet would plan the
deletion of every object that state records and the fleet does not render, without a word.

A state records the cluster it belongs to (kubeconfig context, API server) and the fleet
path it was applied from; a plan compares them with its own and refuses a mismatch unless
told to go on (`--force-state`, which turns it into a warning in the plan). Only what both
sides know is compared: an offline plan knows its fleet path (and a context when the config
names one), a live plan also the server. The server is the cluster's real identity:
context names are the user's own, so they are compared only when a server is missing.

    check_state_identity(state, Identity(fleet_path="clusters/prod", context="prod"), location="file s.json")
"""

from __future__ import annotations

from dataclasses import dataclass

from fluxform.errors import Diagnostic, StateError
from fluxform.state.model import StateFile

__all__ = ["Identity", "StateCheck", "check_state_identity", "identity_of", "mismatches"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The cluster and fleet a state belongs to, or a plan is made for ("" = not known)."""

    fleet_path: str = ""  # the cluster directory, relative to the repository root
    context: str = ""  # kubeconfig context
    server: str = ""  # API server URL


@dataclass(frozen=True, slots=True)
class StateCheck:
    """How a plan checks the state it is given (the CLI's flags)."""

    context: str = ""  # the kubeconfig context the plan is for, when known offline
    force: bool = False  # --force-state: a mismatch is a warning, not an error


def identity_of(state: StateFile) -> Identity:
    return Identity(fleet_path=state.fleet_path, context=state.cluster, server=state.server)


def mismatches(recorded: Identity, current: Identity) -> list[str]:
    """What differs between a state's identity and a plan's, as words for the message."""
    found = []
    if recorded.fleet_path and current.fleet_path and _path(recorded.fleet_path) != _path(current.fleet_path):
        found.append(f"fleet path {recorded.fleet_path or './'} (this plan: {current.fleet_path or './'})")
    if recorded.server and current.server:
        if recorded.server.rstrip("/") != current.server.rstrip("/"):
            found.append(f"server {recorded.server} (this plan: {current.server})")
    elif recorded.context and current.context and recorded.context != current.context:
        found.append(f"context {recorded.context} (this plan: {current.context})")
    return found


def check_state_identity(state: StateFile, current: Identity, *, location: str, force: bool) -> Diagnostic | None:
    """Raise StateError when `state` belongs to another cluster or fleet; with `force`,
    return the warning the plan shows instead. None when they agree."""
    different = mismatches(identity_of(state), current)
    if not different:
        return None
    summary = f"state {location} was recorded for another cluster or fleet: " + "; ".join(different)
    if not force:
        raise StateError(
            summary,
            hint="pass the state of this cluster with --state, or --force-state to plan against it anyway "
            "(objects it records that this fleet does not render would be planned for deletion)",
        )
    return Diagnostic(f"--force-state: {summary}; objects it records that this fleet does not render are destroyed")


def _path(text: str) -> str:
    return text.strip("/").removeprefix("./") or "."
