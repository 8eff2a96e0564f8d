"""The state lock as a coordination.k8s.io/v1 Lease: the cluster's API is the arbiter.

The holder's lock id is the Lease's `holderIdentity`, its LockInfo sits in an annotation,
and a background thread renews `renewTime` every third of the lease duration while an apply
runs. Another client takes the Lease over only once `renewTime + leaseDurationSeconds` has
passed (by its own clock), with the resourceVersion it read, so of two racing takers one
gets a 409 and reports the winner.

A write whose answer was lost and that was sent again may meet its own first send (409, or
AlreadyExists on create): the Lease is then read back, and the write counts as done when the
Lease holds exactly what was written.

    lease = LeaseLock(cluster, "fluxform-state", "fluxform-lock-prod", lease_seconds=30, location=...)
    lock_id = lease.acquire(new_lock_info("apply"))
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.lookup import get_object
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import create, replace
from fluxform.errors import StateError
from fluxform.state.kubecalls import LEASES, Conflict, accepted, state_call
from fluxform.state.lock import LockHeld, LockInfo, LockLost, lock_info_from_json, lock_info_to_json

__all__ = ["LOCK_ANNOTATION", "LeaseLock", "micro_time", "parse_time"]

LOCK_ANNOTATION = "fluxform.dev/lock-info"


class LeaseLock:
    """One named Lease; this object holds it at most once at a time."""

    def __init__(
        self, cluster: ClusterClient, namespace: str, name: str, *, lease_seconds: float, location: str
    ) -> None:
        self._cluster = cluster
        self._ref = ObjectRef(LEASES, namespace, name)
        self.namespace = namespace
        self.name = name
        self.duration = max(1, math.ceil(lease_seconds))
        self.location = location
        self._held: LockInfo | None = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def held_id(self) -> str | None:
        return self._held.id if self._held else None

    def acquire(self, info: LockInfo) -> str:
        """One attempt; LockHeld naming the live holder."""
        lease = self._get()
        transitions = _transitions(lease)
        try:
            if lease is None:
                self._write("create", self._body(info, None, transitions, acquired=None))
            else:
                holder = self._live_holder(lease)
                if holder is not None:
                    raise LockHeld(holder, self.location)
                body = self._body(info, _resource_version(lease), transitions + 1, acquired=None)
                self._write("replace", body)
        except Conflict:
            raise LockHeld(self.holder() or _unknown(), self.location) from None
        self._start_renewing(info)
        return info.id

    def release(self, lock_id: str) -> None:
        if self.held_id != lock_id:
            raise StateError(f"lock {lock_id} on state {self.location} is not held by this process")
        self._stop_renewing()
        for _ in range(3):
            lease = self._get()
            if lease is None or _holder_id(lease) != lock_id:
                return  # force-unlocked or taken over meanwhile: nothing left to release
            try:
                self._write("replace", self._released_body(lease))
                return
            except Conflict:
                continue

    def force_release(self, lock_id: str) -> None:
        lease = self._get()
        current = _holder_id(lease) if lease is not None else ""
        if lease is None or not current:
            raise StateError(f"state {self.location} is not locked")
        if current != lock_id:
            holder = self._live_holder(lease)
            described = holder.describe() if holder else f"an expired lock {current}"
            raise StateError(
                f"lock id {lock_id} does not match the lock on state {self.location}",
                detail=f"locked by {described}",
            )
        try:
            self._write("replace", self._released_body(lease))
        except Conflict:
            raise StateError(f"the lock on state {self.location} changed meanwhile; try again") from None
        if self.held_id == lock_id:
            self._stop_renewing()

    def holder(self) -> LockInfo | None:
        lease = self._get()
        return self._live_holder(lease) if lease is not None else None

    def check_held(self) -> None:
        """LockLost unless the Lease still names our lock (checked right before a write)."""
        lease = self._get()
        if self._lost.is_set() or lease is None or _holder_id(lease) != self.held_id:
            raise LockLost(
                f"the lock on state {self.location} was force-unlocked or taken over; not writing",
                hint="another client took the Lease (it expired, or force-unlock); run the command again",
            )

    # -- renewal -------------------------------------------------------------------------

    def _start_renewing(self, info: LockInfo) -> None:
        self._held = info
        self._lost.clear()
        self._stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew_loop, args=(info, self._stop), name=f"lease-{self.name}", daemon=True
        )
        self._renewer.start()

    def _stop_renewing(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self._renewer = None
        self._held = None

    def _renew_loop(self, info: LockInfo, stop: threading.Event) -> None:
        """Renew until stopped. The loop ends as lost when the Lease names another holder, or
        when no renewal succeeded for a whole lease duration (another client may hold it now);
        the next write then sees LockLost."""
        renewed = time.monotonic()
        while not stop.wait(self.duration / 3):
            if time.monotonic() - renewed > self.duration:
                self._lost.set()
                return
            try:
                lease = self._get()
                if lease is None or _holder_id(lease) != info.id:
                    self._lost.set()
                    return
                acquired = _spec(lease).get("acquireTime")
                body = self._body(info, _resource_version(lease), _transitions(lease), acquired)
                self._write("replace", body)
                renewed = time.monotonic()
            except (Conflict, StateError):
                continue  # transient: retried next tick

    # -- API -----------------------------------------------------------------------------

    def _get(self) -> dict[str, Any] | None:
        with state_call(f"read Lease {self.namespace}/{self.name}"):
            return get_object(self._cluster, self._ref)

    def _write(self, verb: str, body: dict[str, Any]) -> None:
        """Create or replace the Lease; Conflict when someone else got there first."""
        what = f"{verb} Lease {self.namespace}/{self.name}"
        with state_call(what):
            write = create if verb == "create" else replace
            written = write(self._cluster, LEASES, body)
        try:
            stored = accepted(written, what)
        except Conflict as conflict:
            if conflict.retried and _holds(self._get(), body):
                return  # our own first send landed; its answer was lost
            raise
        if written.retried and not _holds(stored, body):  # "created" by a re-read: someone else's Lease
            raise Conflict(what, retried=True)

    def _body(self, info: LockInfo, resource_version: str | None, transitions: int, acquired: Any) -> dict[str, Any]:
        now = micro_time()
        acquired_at = parse_time(acquired)
        metadata: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "fluxform"},
            "annotations": {LOCK_ANNOTATION: lock_info_to_json(info)},
        }
        if resource_version:
            metadata["resourceVersion"] = resource_version
        spec = {
            "holderIdentity": info.id,
            "leaseDurationSeconds": self.duration,
            "acquireTime": micro_time(acquired_at) if acquired_at else now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def _released_body(self, lease: dict[str, Any]) -> dict[str, Any]:
        metadata = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "fluxform"},
            "resourceVersion": _resource_version(lease),
        }
        spec = {"leaseDurationSeconds": self.duration, "leaseTransitions": _transitions(lease)}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def _live_holder(self, lease: dict[str, Any]) -> LockInfo | None:
        """The holder of an unexpired Lease, else None."""
        holder_id = _holder_id(lease)
        if not holder_id or _expired(lease):
            return None
        annotations = (lease.get("metadata") or {}).get("annotations") or {}
        info = lock_info_from_json(annotations.get(LOCK_ANNOTATION, ""))
        if info is not None and info.id == holder_id:
            return info
        renewed = parse_time(_spec(lease).get("renewTime"))
        when = micro_time(renewed) if renewed else "unknown"
        return LockInfo(id=holder_id, who=holder_id, when=when, operation="unknown")


def _spec(lease: dict[str, Any] | None) -> dict[str, Any]:
    spec = (lease or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _resource_version(lease: dict[str, Any]) -> str:
    return str((lease.get("metadata") or {}).get("resourceVersion") or "")


def _holder_id(lease: dict[str, Any]) -> str:
    return str(_spec(lease).get("holderIdentity") or "")


def _transitions(lease: dict[str, Any] | None) -> int:
    return int(_spec(lease).get("leaseTransitions") or 0)


def _holds(lease: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """Whether the stored Lease is exactly what `body` wrote (renewTime is ours to the microsecond)."""
    if lease is None:
        return False
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    wanted = (body.get("metadata") or {}).get("annotations") or {}
    return _spec(lease) == body["spec"] and annotations.get(LOCK_ANNOTATION) == wanted.get(LOCK_ANNOTATION)


def _expired(lease: dict[str, Any]) -> bool:
    spec = _spec(lease)
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    seconds = spec.get("leaseDurationSeconds")
    if renewed is None or not seconds:
        return True
    return dt.datetime.now(dt.UTC) > renewed + dt.timedelta(seconds=int(seconds))


def _unknown() -> LockInfo:
    return LockInfo(id="unknown", who="another client", when="unknown", operation="unknown")


def micro_time(moment: dt.datetime | None = None) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 time (MicroTime or Time) as an aware datetime; None if absent or unreadable."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
