"""The state model: what fluxform applied, per owner, with a bounded history for rollback.

A state belongs to one cluster (kubeconfig context, API server) and one fleet path; a plan
against another is refused (fluxform.state.identity). Its `lineage` is a random UUID fixed at
creation, so two unrelated states are never confused; its `serial` grows by one on every write,
so a writer can tell that someone else wrote since it read (Terraform's statefile rules).

Owners are the Flux Kustomizations and HelmReleases; each records its inventory (Flux
inventory ids + API versions, in apply order) and, per object, a digest and the applied
manifest. Secret values are never in a manifest in plaintext: see `fluxform.state.secrets`.

    state = new_state("prod-eu")
    state = next_revision(state, {owner.id: owner}, operation="apply", by="alice@laptop")
    text = state_to_json(state)          # versioned JSON, see fluxform.state.codec
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fluxform import __version__
from fluxform.objects import ObjectId

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "FORMAT_VERSION",
    "PENDING_DIGEST",
    "ActionRecord",
    "OwnerState",
    "Revision",
    "RolledBack",
    "StateFile",
    "StateObject",
    "canonical_digest",
    "canonical_json",
    "new_state",
    "next_revision",
    "state_from_json",
    "state_to_json",
    "utc_now",
    "without_ids",
]

#: Bump when readers of older fluxform versions must refuse the file.
FORMAT_VERSION = 1
#: Revisions kept besides the current one, enough to roll back a bad week of applies.
DEFAULT_HISTORY_LIMIT = 10
#: The digest of an object an apply recorded before writing it (its pending inventory): it
#: may or may not exist in the cluster, so no manifest's digest ever equals it.
PENDING_DIGEST = "pending"


@dataclass(frozen=True, slots=True)
class StateObject:
    """One applied object. `manifest` is None when it was not kept (nothing to roll back to).

    For a core Secret, `manifest` holds masked values (`***...` fingerprints) and the real
    values are either age-encrypted in `sealed_values` or omitted: then rollback re-renders
    them from the owner's recorded source revision.
    """

    id: ObjectId
    api_version: str
    digest: str  # "sha256:<hex>" of the normalised, plaintext-free manifest
    manifest: Mapping[str, Any] | None
    sealed_values: str | None = None  # base64 age ciphertext of {"data", "stringData"}

    @property
    def is_secret(self) -> bool:
        return self.id.group == "" and self.id.kind == "Secret"

    @property
    def secret_values_omitted(self) -> bool:
        """True when rollback must re-render this Secret's values from source."""
        return self.is_secret and self.sealed_values is None


@dataclass(frozen=True, slots=True)
class OwnerState:
    """A Flux Kustomization or HelmRelease and the inventory its last apply left."""

    id: ObjectId
    prune: bool
    source_revision: str  # e.g. "main@sha1:<sha>" or an OCI digest
    applied_at: str  # RFC 3339 UTC
    applied_by: str  # user@host
    objects: tuple[StateObject, ...]  # inventory, in apply order
    source_digest: str = ""  # artifact digest when the source had one
    field_manager: str = ""  # manager used for server-side apply


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """What one operation did to one object, for the history (ids and words, never a value):
    an apply's `created`/`configured`/`deleted`..., a rollback's `restored`/`not restored`."""

    owner: ObjectId
    id: ObjectId
    action: str
    detail: str = ""  # why (a rollback's reason an object could not be restored), for people


@dataclass(frozen=True, slots=True)
class RolledBack:
    """A source revision `fluxform rollback` rolled the cluster away from: planning it again
    says so, applying it again needs --retry-rolled-back."""

    source_revision: str  # the artifact digest its plans record
    source_commit: str  # the git commit it was applied from ("" unknown)
    serial: int  # the state serial the rollback wrote
    at: str  # RFC 3339 UTC
    reason: str


@dataclass(frozen=True, slots=True)
class Revision:
    """An earlier state, kept so a rollback can re-apply what it recorded."""

    serial: int
    written_at: str
    written_by: str
    operation: str  # "apply", "rollback", "state rm", "state push", ...
    owners: Mapping[ObjectId, OwnerState]
    source_commit: str = ""  # the git commit the cluster's content was applied from ("" unknown)
    actions: tuple[ActionRecord, ...] = ()  # what the operation did, object by object


@dataclass(frozen=True, slots=True)
class StateFile:
    """The whole state. Frozen: derive new states with the functions below."""

    format_version: int
    lineage: str
    serial: int
    fluxform_version: str
    cluster: str
    mask_key: str  # base64 of 32 random bytes: the HMAC key for Secret value fingerprints
    owners: Mapping[ObjectId, OwnerState]
    server: str = ""  # API server URL of the cluster ("" = not recorded)
    fleet_path: str = ""  # the cluster directory, relative to the repository root ("" = not recorded)
    history: tuple[Revision, ...] = ()  # oldest first, newest last, current excluded
    written_at: str = ""
    written_by: str = ""
    operation: str = ""
    source_commit: str = ""  # the git commit the last apply (or rollback) rendered ("" unknown)
    actions: tuple[ActionRecord, ...] = ()  # what the operation that wrote it did, object by object
    rolled_back: tuple[RolledBack, ...] = ()  # source revisions rolled back from (kept, not history)
    _index: dict[ObjectId, tuple[OwnerState, StateObject]] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def objects(self) -> dict[ObjectId, tuple[OwnerState, StateObject]]:
        """Every recorded object with its owner. An id claimed by two owners maps to the last
        owner in id order (Flux itself refuses such overlaps, so this is a corner case)."""
        if self._index is None:
            index = {obj.id: (owner, obj) for owner in self.sorted_owners() for obj in owner.objects}
            object.__setattr__(self, "_index", index)
            return index
        return self._index

    def sorted_owners(self) -> list[OwnerState]:
        return [self.owners[key] for key in sorted(self.owners)]

    def as_revision(self) -> Revision:
        """This state as the revision history keeps of it once a newer state is written."""
        return Revision(
            self.serial,
            self.written_at,
            self.written_by,
            self.operation,
            self.owners,
            self.source_commit,
            self.actions,
        )

    def mask_key_bytes(self) -> bytes:
        return base64.b64decode(self.mask_key)


def utc_now() -> str:
    """RFC 3339 UTC with second precision, the format every timestamp in state uses."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_state(
    cluster: str,
    *,
    lineage: str | None = None,
    mask_key: str | None = None,
    fluxform_version: str = __version__,
    server: str = "",
    fleet_path: str = "",
) -> StateFile:
    """An empty state (serial 0: the first write makes it 1) for the cluster of kubeconfig
    context `cluster` at `server`, planned from `fleet_path`."""
    return StateFile(
        format_version=FORMAT_VERSION,
        lineage=lineage or str(uuid.uuid4()),
        serial=0,
        fluxform_version=fluxform_version,
        cluster=cluster,
        mask_key=mask_key or base64.b64encode(secrets.token_bytes(32)).decode(),
        owners={},
        server=server,
        fleet_path=fleet_path,
    )


def next_revision(
    state: StateFile,
    owners: Mapping[ObjectId, OwnerState],
    *,
    operation: str,
    by: str,
    at: str | None = None,
    history_limit: int = DEFAULT_HISTORY_LIMIT,
    actions: tuple[ActionRecord, ...] = (),
) -> StateFile:
    """The state after an operation: the current owners become the newest history entry.

    Owners not in `owners` are gone from the current revision (an apply passes every owner
    it keeps, touched or not). The serial is not changed here: the backend bumps it on write.
    """
    history = state.history
    if state.serial > 0:
        history = (*history, state.as_revision())
    history = history[-history_limit:] if history_limit > 0 else ()
    return replace(
        state,
        owners=dict(owners),
        history=history,
        written_at=at or utc_now(),
        written_by=by,
        operation=operation,
        fluxform_version=__version__,
        actions=actions,
    )


def without_ids(
    state: StateFile, ids: Iterable[ObjectId], *, by: str, history_limit: int = DEFAULT_HISTORY_LIMIT
) -> StateFile:
    """Forget objects (or whole owners) without touching the cluster (`state rm`)."""
    drop = set(ids)
    owners: dict[ObjectId, OwnerState] = {}
    for key, owner in state.owners.items():
        if key in drop:
            continue
        kept = tuple(obj for obj in owner.objects if obj.id not in drop)
        owners[key] = owner if len(kept) == len(owner.objects) else replace(owner, objects=kept)
    return next_revision(state, owners, operation="state rm", by=by, history_limit=history_limit)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same data always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_digest(manifest: Any) -> str:
    """`sha256:<hex>` of the canonical JSON of a manifest (callers normalise and mask first)."""
    return "sha256:" + hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


def state_to_json(state: StateFile) -> str:
    """Serialise (format_version 1); refuses a Secret value that is not masked."""
    from fluxform.state.codec import encode_state

    return encode_state(state)


def state_from_json(text: str | bytes, origin: str) -> StateFile:
    """Parse and validate; `origin` names the file or Secret in errors."""
    from fluxform.state.codec import decode_state

    return decode_state(text, origin)
