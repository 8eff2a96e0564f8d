"""Kubernetes state backend: gzip-compressed state in Secrets, locked by a Lease.

For teams: the cluster's own API is the shared store and the arbiter. The state lives in a
namespace you choose:

    Secret fluxform-state-<name>           the head: lineage/serial annotations, and either
                                           the gzip'd state (data["state.json.gz"]) or, when
                                           over ~1 MiB, the list of part Secrets + a sha256
    Secret fluxform-state-<name>-part-...  parts of a large state (one write's parts share a
                                           random token, so writes never overwrite parts)
    Lease  fluxform-lock-<name>            the lock (see fluxform.state.lease)

A write creates its parts first, then replaces the head with the resourceVersion it read:
the head update is the commit, so a reader sees the old or the new state whole, and of two
writers one gets a 409. Parts no head refers to are deleted after a commit. The backend talks
through the one cluster client (fluxform.cluster), so it honours the same kubeconfig,
context and in-cluster options as live plans, with the same retries: a head write whose
answer was lost and that meets its own first send (409) is read back and counts as
committed when the head holds exactly what was written.

    backend = KubeBackend.from_options(ClusterOptions(context="prod"), namespace="fluxform-state", name="prod")
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.lookup import get_object, list_objects
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import create, delete
from fluxform.cluster.write import replace as replace_object
from fluxform.errors import ClusterError, StateError
from fluxform.state.backend import locked, next_serial, wait_for_lock
from fluxform.state.kubecalls import SECRETS, Conflict, accepted, state_call
from fluxform.state.lease import LeaseLock
from fluxform.state.lock import LockInfo
from fluxform.state.model import StateFile, state_from_json, state_to_json

__all__ = ["DEFAULT_PART_BYTES", "KubeBackend", "default_state_name"]

#: Bytes of compressed state per Secret: under the API's 1 MiB limit on Secret data.
DEFAULT_PART_BYTES = 1_000_000
DATA_KEY = "state.json.gz"
PARTS_KEY = "parts.json"
PART_KEY = "part"
STATE_LABEL = "fluxform.dev/state"
ROLE_LABEL = "fluxform.dev/role"
LINEAGE_ANNOTATION = "fluxform.dev/lineage"
SERIAL_ANNOTATION = "fluxform.dev/serial"
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_MAX_NAME = 40  # keeps every derived object name and the label value within limits


def default_state_name(context: str) -> str:
    """A DNS-label form of the context; shortened with a hash when it had to change."""
    name = _NOT_DNS.sub("-", context.lower()).strip("-") or "default"
    if name != context or len(name) > _MAX_NAME:
        name = f"{name[: _MAX_NAME - 9].rstrip('-')}-{hashlib.sha256(context.encode()).hexdigest()[:8]}"
    return name


class KubeBackend:
    """State in Secrets of one namespace; the same interface as LocalBackend."""

    def __init__(
        self,
        cluster: ClusterClient,
        *,
        namespace: str,
        name: str,
        lease_seconds: float = 30.0,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        if not name or _NOT_DNS.search(name) or len(name) > _MAX_NAME:
            raise StateError(f"state name {name!r} must be at most {_MAX_NAME} lowercase letters, digits or '-'")
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.head_name = f"fluxform-state-{name}"
        self.part_bytes = part_bytes
        self._lease = LeaseLock(
            cluster, namespace, f"fluxform-lock-{name}", lease_seconds=lease_seconds, location=self.location
        )

    @classmethod
    def from_options(
        cls, options: ClusterOptions, *, namespace: str, name: str = "", lease_seconds: float = 30.0
    ) -> KubeBackend:
        """Connect as a live plan would; `name` "" derives the state name from the context."""
        cluster = connect(options)
        return cls(
            cluster, namespace=namespace, name=name or default_state_name(cluster.context), lease_seconds=lease_seconds
        )

    @property
    def location(self) -> str:
        return f"Secret {self.namespace}/{self.head_name}"

    # -- reading -------------------------------------------------------------------------

    def read(self) -> StateFile | None:
        head = self._get_secret(self.head_name)
        if head is None:
            return None
        return state_from_json(gzip_decompress(self._payload(head), self.location), self.location)

    def _payload(self, head: dict[str, Any]) -> bytes:
        data = head.get("data") or {}
        if DATA_KEY in data:
            return _b64(data[DATA_KEY], self.location)
        if PARTS_KEY not in data:
            raise StateError(f"state {self.location} holds no state data", hint="was it written by fluxform?")
        try:
            index = json.loads(_b64(data[PARTS_KEY], self.location))
            parts, checksum = [str(p) for p in index["parts"]], str(index["sha256"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"state {self.location}: its list of parts is damaged") from exc
        chunks = []
        for part in parts:
            secret = self._get_secret(part)
            part_data = (secret or {}).get("data") or {}
            if PART_KEY not in part_data:
                raise StateError(f"state {self.location}: part Secret {part} is missing")
            chunks.append(_b64(part_data[PART_KEY], part))
        payload = b"".join(chunks)
        if hashlib.sha256(payload).hexdigest() != checksum:
            raise StateError(f"state {self.location}: its parts do not add up (checksum mismatch)")
        return payload

    # -- writing -------------------------------------------------------------------------

    def write(self, state: StateFile, *, force: bool = False) -> StateFile:
        with self._write_lock():
            head = self._get_secret(self.head_name)
            serial = next_serial(_header(head, self.location, force), state, force=force, location=self.location)
            stored = replace(state, serial=serial)
            payload = gzip.compress(state_to_json(stored).encode(), compresslevel=6, mtime=0)
            parts = self._create_parts(payload, serial) if len(payload) > self.part_bytes else []
            try:
                self._commit(head, stored, payload, parts)
            except BaseException:
                self._delete_secrets(parts)
                raise
            self._delete_unreferenced_parts(set(parts))
        return stored

    def _create_parts(self, payload: bytes, serial: int) -> list[str]:
        token = secrets.token_hex(4)
        names: list[str] = []
        try:
            for index, start in enumerate(range(0, len(payload), self.part_bytes)):
                name = f"{self.head_name}-part-{serial}-{token}-{index}"
                chunk = payload[start : start + self.part_bytes]
                body = self._secret_body(name, "part", {PART_KEY: chunk}, annotations={})
                what = f"create Secret {self.namespace}/{name}"
                with state_call(what):
                    accepted(create(self.cluster, SECRETS, body), what)  # a random name: a re-read one is ours
                names.append(name)
        except BaseException:
            self._delete_secrets(names)
            raise
        return names

    def _commit(self, head: dict[str, Any] | None, state: StateFile, payload: bytes, parts: list[str]) -> None:
        if parts:
            index = {"parts": parts, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)}
            data = {PARTS_KEY: json.dumps(index).encode()}
        else:
            data = {DATA_KEY: payload}
        annotations = {LINEAGE_ANNOTATION: state.lineage, SERIAL_ANNOTATION: str(state.serial)}
        body = self._secret_body(self.head_name, "head", data, annotations)
        what = f"write {self.location}"
        self._lease.check_held()
        try:
            with state_call(what):
                if head is None:
                    written = create(self.cluster, SECRETS, body)
                else:
                    body["metadata"]["resourceVersion"] = head["metadata"]["resourceVersion"]
                    written = replace_object(self.cluster, SECRETS, body)
            stored = accepted(written, what)
            if written.retried and not _holds(stored, body):  # AlreadyExists re-read: not our head
                raise Conflict(what, retried=True)
        except Conflict as conflict:
            if conflict.retried and _holds(self._get_secret(self.head_name), body):
                return  # our first send committed; only its answer was lost
            raise StateError(
                f"state {self.location} changed since it was read",
                hint="someone else wrote it meanwhile; run the command again",
            ) from None

    def _delete_unreferenced_parts(self, keep: set[str]) -> None:
        """Parts of earlier states and of writers that died before committing."""
        selector = f"{STATE_LABEL}={self.name},{ROLE_LABEL}=part"
        with state_call(f"list Secrets in {self.namespace}"):
            listed = list_objects(self.cluster, SECRETS, self.namespace, label_selector=selector)
        names = [str(item["metadata"]["name"]) for item in listed.items]
        self._delete_secrets([name for name in names if name not in keep])

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        if self._lease.held_id is not None:
            yield
            return
        with locked(self, "write state"):
            yield

    # -- locking -------------------------------------------------------------------------

    def lock(self, info: LockInfo, *, timeout: float = 0.0) -> str:
        if self._lease.held_id is not None:
            raise StateError(f"state {self.location} is already locked by this process")
        return wait_for_lock(lambda: self._lease.acquire(info), timeout)

    def unlock(self, lock_id: str) -> None:
        self._lease.release(lock_id)

    def force_unlock(self, lock_id: str) -> None:
        self._lease.force_release(lock_id)

    def lock_holder(self) -> LockInfo | None:
        return self._lease.holder()

    # -- Secrets -------------------------------------------------------------------------

    def _secret_body(self, name: str, role: str, data: dict[str, bytes], annotations: dict[str, str]) -> dict[str, Any]:
        labels = {"app.kubernetes.io/managed-by": "fluxform", STATE_LABEL: self.name, ROLE_LABEL: role}
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels, "annotations": annotations},
            "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
        }

    def _get_secret(self, name: str) -> dict[str, Any] | None:
        with state_call(f"read Secret {self.namespace}/{name}"):
            return get_object(self.cluster, ObjectRef(SECRETS, self.namespace, name))

    def _delete_secrets(self, names: list[str]) -> None:
        """Best effort: a part left behind is removed by the next write."""
        for name in names:
            with contextlib.suppress(ClusterError):
                delete(self.cluster, ObjectRef(SECRETS, self.namespace, name))


def _holds(secret: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """Whether the stored head is exactly the one `body` wrote (same state, same serial)."""
    if secret is None:
        return False
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    return bool(secret.get("data") == body["data"] and annotations == body["metadata"]["annotations"])


def _header(head: dict[str, Any] | None, location: str, force: bool) -> tuple[str, int] | None:
    if head is None:
        return None
    annotations = (head.get("metadata") or {}).get("annotations") or {}
    try:
        return annotations[LINEAGE_ANNOTATION], int(annotations[SERIAL_ANNOTATION])
    except (KeyError, ValueError) as exc:
        if force:
            return None
        raise StateError(
            f"state {location} has no lineage/serial annotations",
            hint="it was not written by fluxform; push with --force to replace it",
        ) from exc


def _b64(value: Any, origin: str) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(str(value), validate=True)
    except binascii.Error as exc:
        raise StateError(f"state {origin}: data is not base64") from exc


def gzip_decompress(payload: bytes, origin: str) -> bytes:
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError) as exc:
        raise StateError(f"state {origin} is damaged: not gzip data ({exc})") from exc
