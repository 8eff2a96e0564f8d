"""The state lock as a coordination.k8s.io/v1 Lease: the cluster's API is the arbiter.

The holder's lock id is the Lease's `holderIdentity`, its LockInfo sits in an annotation,
and a background thread renews `renewTime` every third of the lease duration while an apply
runs. Another client takes the Lease over only once `renewTime + leaseDurationSeconds` has
passed (by its own clock), with the resourceVersion it read, so of two racing takers one
gets a 409 and reports the winner.

    lease = LeaseLock(api, "fluxform-state", "fluxform-lock-prod", lease_seconds=30, location=...)
    lock_id = lease.acquire(new_lock_info("apply"))
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from typing import Any

from kubernetes import client

from fluxform.errors import StateError
from fluxform.state.kubeclient import REQUEST_TIMEOUT, Conflict, api_call, json_headers, micro_time, parse_time
from fluxform.state.lock import LockHeld, LockInfo, LockLost, lock_info_from_json, lock_info_to_json

__all__ = ["LOCK_ANNOTATION", "LeaseLock"]

LOCK_ANNOTATION = "fluxform.dev/lock-info"


class LeaseLock:
    """One named Lease; this object holds it at most once at a time."""

    def __init__(
        self, api: client.ApiClient, namespace: str, name: str, *, lease_seconds: float, location: str
    ) -> None:
        self._coord = client.CoordinationV1Api(api)
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
                body = self._body(info, lease.metadata.resource_version, transitions + 1, acquired=None)
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
                acquired = lease.spec.acquire_time if lease.spec else None
                body = self._body(info, lease.metadata.resource_version, _transitions(lease), acquired)
                self._write("replace", body)
                renewed = time.monotonic()
            except (Conflict, StateError):
                continue  # transient: retried next tick

    # -- API -----------------------------------------------------------------------------

    def _get(self) -> Any:
        return api_call(
            f"read Lease {self.namespace}/{self.name}",
            lambda: self._coord.read_namespaced_lease(self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT),
            missing_ok=True,
        )

    def _write(self, verb: str, body_dict: dict[str, Any]) -> None:
        what = f"{verb} Lease {self.namespace}/{self.name}"
        body = client.V1Lease.model_validate(body_dict)
        if verb == "create":
            api_call(
                what,
                lambda: self._coord.create_namespaced_lease(
                    self.namespace, body, _headers=json_headers(), _request_timeout=REQUEST_TIMEOUT
                ),
            )
        else:
            api_call(
                what,
                lambda: self._coord.replace_namespaced_lease(
                    self.name,
                    self.namespace,
                    body,
                    _headers=json_headers(),
                    _request_timeout=REQUEST_TIMEOUT,
                ),
            )

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

    def _released_body(self, lease: Any) -> dict[str, Any]:
        metadata = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "fluxform"},
            "resourceVersion": lease.metadata.resource_version,
        }
        spec = {"leaseDurationSeconds": self.duration, "leaseTransitions": _transitions(lease)}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def _live_holder(self, lease: Any) -> LockInfo | None:
        """The holder of an unexpired Lease, else None."""
        holder_id = _holder_id(lease)
        if not holder_id or _expired(lease):
            return None
        annotations = lease.metadata.annotations or {}
        info = lock_info_from_json(annotations.get(LOCK_ANNOTATION, ""))
        if info is not None and info.id == holder_id:
            return info
        renewed = parse_time(lease.spec.renew_time)
        when = micro_time(renewed) if renewed else "unknown"
        return LockInfo(id=holder_id, who=holder_id, when=when, operation="unknown")


def _holder_id(lease: Any) -> str:
    return str((lease.spec.holder_identity if lease.spec else None) or "")


def _transitions(lease: Any) -> int:
    return int((lease.spec.lease_transitions if lease is not None and lease.spec else None) or 0)


def _expired(lease: Any) -> bool:
    spec = lease.spec
    renewed = parse_time(spec.renew_time) or parse_time(spec.acquire_time)
    if renewed is None or not spec.lease_duration_seconds:
        return True
    return dt.datetime.now(dt.UTC) > renewed + dt.timedelta(seconds=spec.lease_duration_seconds)


def _unknown() -> LockInfo:
    return LockInfo(id="unknown", who="another client", when="unknown", operation="unknown")
