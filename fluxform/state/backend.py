"""The interface every state backend offers, and the write rules they share.

Backends are interchangeable (local file, Kubernetes Secrets + Lease); one contract test
suite runs against each (tests/unit/state/backend_contract.py).

    backend = open_backend(settings, root=Path("."), cluster=ClusterOptions(context="prod"))
    with locked(backend, "apply"):
        state = backend.read() or new_state("prod")
        state = backend.write(next_revision(state, owners, operation="apply", by=who))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from fluxform.cluster.options import ClusterOptions
from fluxform.errors import StateError
from fluxform.state.lock import LockHeld, LockInfo, new_lock_info
from fluxform.state.model import StateFile

if TYPE_CHECKING:
    from fluxform.config import StateConfig

__all__ = ["StateBackend", "locked", "next_serial", "open_backend", "wait_for_lock"]

#: How often a waiting locker retries.
LOCK_POLL_SECONDS = 0.2


class StateBackend(Protocol):
    """Where a state lives. Reads need no lock; writes take one briefly if the caller
    holds none, so two writers never interleave."""

    @property
    def location(self) -> str:
        """Human name of the store, for messages ("file .fluxform/prod.state.json")."""
        ...

    def read(self) -> StateFile | None:
        """The stored state, or None when none was ever written."""
        ...

    def write(self, state: StateFile, *, force: bool = False) -> StateFile:
        """Store `state` with the next serial and return what was stored.

        Refuses (StateError) when the stored lineage differs or its serial is no longer
        `state.serial` (someone wrote since it was read), unless `force`.
        """
        ...

    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        """Take the lock (waiting up to `timeout` seconds); returns the lock id.
        Raises LockHeld naming the holder."""
        ...

    def unlock(self, lock_id: str) -> None:
        """Release a lock this backend object took."""
        ...

    def force_unlock(self, lock_id: str) -> None:
        """Break a lock whoever holds it, when `lock_id` is the id of the current lock."""
        ...

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lock now, or None."""
        ...


def next_serial(stored: tuple[str, int] | None, state: StateFile, *, force: bool, location: str) -> int:
    """The serial a write stores, after checking the state being written descends from the
    stored one (Terraform's lineage/serial rule)."""
    if stored is None:
        return state.serial + 1
    lineage, serial = stored
    if not force and lineage != state.lineage:
        raise StateError(
            f"state {location} has lineage {lineage}, not {state.lineage}: it is a different state",
            hint="check --state/--backend and the cluster; --force replaces it",
        )
    if not force and serial != state.serial:
        raise StateError(
            f"state {location} changed since it was read (serial {state.serial}, now {serial})",
            hint="someone else wrote it meanwhile; run the command again",
        )
    return max(serial, state.serial) + 1


def wait_for_lock(attempt: Callable[[], str], timeout: float) -> str:
    """Retry `attempt` while it raises LockHeld, up to `timeout` seconds."""
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            return attempt()
        except LockHeld:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(LOCK_POLL_SECONDS, remaining))


@contextmanager
def locked(backend: StateBackend, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
    """Hold the backend's lock for the block; released even when the block fails."""
    info = new_lock_info(operation)
    lock_id = backend.lock(info, timeout=timeout)
    try:
        yield info
    finally:
        backend.unlock(lock_id)


def open_backend(settings: StateConfig, *, root: Path, cluster: ClusterOptions, context: str = "") -> StateBackend:
    """The backend the settings select. `cluster` is how to reach the cluster (the options a
    live plan uses: --kubeconfig, --context, --in-cluster); the Kubernetes backend keeps its
    Secrets and Lease there. `context` names the cluster the state belongs to (the default
    state file or state name); default `cluster.context`, and for the Kubernetes backend
    the context it connected to."""
    context = context or cluster.context
    if settings.backend == "local":
        from fluxform.state.local import LocalBackend, default_state_path

        path = settings.path or default_state_path(root, context or "default")
        return LocalBackend(path if path.is_absolute() else root / path)
    if settings.backend == "kubernetes":
        from fluxform.state.kube import KubeBackend, default_state_name

        if not settings.namespace:
            raise StateError(
                "the kubernetes state backend needs a namespace",
                hint="pass --backend-namespace NS or set state.namespace in fluxform.yaml",
            )
        name = settings.name or (default_state_name(context) if context else "")
        return KubeBackend.from_options(
            cluster, namespace=settings.namespace, name=name, lease_seconds=settings.lease_seconds
        )
    raise StateError(f"unknown state backend {settings.backend!r}", hint="use local or kubernetes")
