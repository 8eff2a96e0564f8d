"""State <-> JSON (format version 1), validated field by field.

History makes a state mostly repetition: an apply changes a few owners and keeps the rest.
So owner records and manifests are stored once each, content-addressed, and revisions refer
to them by key:

    {"format": "fluxform-state", "formatVersion": 1, "lineage": "<uuid>", "serial": 7,
     "fluxformVersion": "0.1.0", "cluster": "prod", "server": "https://...", "fleetPath":
     "clusters/prod", "writtenAt": "...", "writtenBy": "...",
     "operation": "apply", "maskKey": "<base64>",
     "owners": {"<owner inventory id>": "<owner key>"},
     "history": [{"serial": 6, "writtenAt": ..., "writtenBy": ..., "operation": ...,
                  "owners": {...}}],
     "ownerRecords": {"<owner key>": {"id": ..., "prune": true, "sourceRevision": ...,
         "sourceDigest": ..., "appliedAt": ..., "appliedBy": ..., "fieldManager": ...,
         "objects": [{"id": ..., "apiVersion": ..., "digest": ..., "manifest": "<key>"|null,
                      "secretValues": {"age": "<base64>"} | "omitted"   (Secrets only)}]}},
     "manifests": {"<manifest key>": {...}}}

Keys are `sha256:<hex>` of the record's canonical JSON. The header fields come first, in
that order, so lineage and serial are readable from the first bytes; everything else is
canonical JSON (sorted keys, no spaces), so the same state always gives the same bytes.
Encoding refuses an unmasked Secret value (see `fluxform.state.secrets`), so a bug upstream
cannot write plaintext to disk.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from fluxform.errors import StateError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.state.model import (
    FORMAT_VERSION,
    ActionRecord,
    OwnerState,
    Revision,
    RolledBack,
    StateFile,
    StateObject,
    canonical_json,
)
from fluxform.state.secrets import check_plaintext_free

__all__ = ["FORMAT_NAME", "decode_state", "encode_state", "read_header"]

FORMAT_NAME = "fluxform-state"
_MISSING: Any = object()


def _key(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class _Encoder:
    """Serialises each owner record and manifest once (the canonical text is both what is
    hashed for its key and what is written), memoised on object identity: unchanged owners
    are the same Python objects from revision to revision."""

    def __init__(self) -> None:
        self.owner_texts: dict[str, str] = {}
        self.manifest_texts: dict[str, str] = {}
        self._owner_keys: dict[int, str] = {}
        self._manifest_keys: dict[int, str] = {}

    def owners(self, owners: Mapping[ObjectId, OwnerState]) -> dict[str, str]:
        return {key.inventory_id(): self._owner(owners[key]) for key in sorted(owners)}

    def _owner(self, owner: OwnerState) -> str:
        known = self._owner_keys.get(id(owner))
        if known is not None:
            return known
        record = {
            "id": owner.id.inventory_id(),
            "prune": owner.prune,
            "sourceRevision": owner.source_revision,
            "sourceDigest": owner.source_digest,
            "appliedAt": owner.applied_at,
            "appliedBy": owner.applied_by,
            "fieldManager": owner.field_manager,
            "objects": [self._object(obj) for obj in owner.objects],
        }
        text = canonical_json(record)
        key = _key(text)
        self.owner_texts[key] = text
        self._owner_keys[id(owner)] = key
        return key

    def _object(self, obj: StateObject) -> dict[str, Any]:
        check_plaintext_free(obj, origin="state to write")
        record: dict[str, Any] = {
            "id": obj.id.inventory_id(),
            "apiVersion": obj.api_version,
            "digest": obj.digest,
            "manifest": None if obj.manifest is None else self._manifest(obj.manifest),
        }
        if obj.is_secret:
            record["secretValues"] = "omitted" if obj.sealed_values is None else {"age": obj.sealed_values}
        return record

    def _manifest(self, manifest: Mapping[str, Any]) -> str:
        known = self._manifest_keys.get(id(manifest))
        if known is not None:
            return known
        text = canonical_json(manifest)
        key = _key(text)
        self.manifest_texts[key] = text
        self._manifest_keys[id(manifest)] = key
        return key


def _provenance(source_commit: str, actions: tuple[ActionRecord, ...]) -> dict[str, Any]:
    """Written only when known, so a state without them keeps its bytes."""
    out: dict[str, Any] = {}
    if source_commit:
        out["sourceCommit"] = source_commit
    if actions:
        out["actions"] = [
            {"owner": a.owner.inventory_id(), "id": a.id.inventory_id(), "action": a.action, "detail": a.detail}
            for a in actions
        ]
    return out


def _rolled_back(item: RolledBack) -> dict[str, Any]:
    return {
        "sourceRevision": item.source_revision,
        "sourceCommit": item.source_commit,
        "serial": item.serial,
        "at": item.at,
        "reason": item.reason,
    }


def _table(texts: dict[str, str]) -> str:
    return "{" + ",".join(f"{canonical_json(key)}:{texts[key]}" for key in sorted(texts)) + "}"


def encode_state(state: StateFile) -> str:
    """Deterministic JSON text, newline-terminated. The header fields come first (in this
    fixed order) so `read_header` can find lineage and serial without parsing megabytes."""
    enc = _Encoder()
    fields: list[tuple[str, Any]] = [
        ("format", FORMAT_NAME),
        ("formatVersion", state.format_version),
        ("lineage", state.lineage),
        ("serial", state.serial),
        ("fluxformVersion", state.fluxform_version),
        ("cluster", state.cluster),
        ("server", state.server),
        ("fleetPath", state.fleet_path),
        ("writtenAt", state.written_at),
        ("writtenBy", state.written_by),
        ("operation", state.operation),
        ("maskKey", state.mask_key),
        ("owners", enc.owners(state.owners)),
        (
            "history",
            [
                {
                    "serial": rev.serial,
                    "writtenAt": rev.written_at,
                    "writtenBy": rev.written_by,
                    "operation": rev.operation,
                    "owners": enc.owners(rev.owners),
                    **_provenance(rev.source_commit, rev.actions),
                }
                for rev in state.history
            ],
        ),
    ]
    fields += list(_provenance(state.source_commit, state.actions).items())
    if state.rolled_back:
        fields.append(("rolledBack", [_rolled_back(r) for r in state.rolled_back]))
    parts = [f"{canonical_json(name)}:{canonical_json(value)}" for name, value in fields]
    parts.append(f'"ownerRecords":{_table(enc.owner_texts)}')
    parts.append(f'"manifests":{_table(enc.manifest_texts)}')
    return "{" + ",".join(parts) + "}\n"


_HEADER = re.compile(rb'^\{"format":"fluxform-state","formatVersion":\d+,"lineage":("(?:[^"\\]|\\.)*"),"serial":(\d+),')


def read_header(prefix: bytes) -> tuple[str, int] | None:
    """Lineage and serial from the first bytes of an encoded state; None if not found there
    (then parse the whole document)."""
    match = _HEADER.match(prefix)
    if match is None:
        return None
    return str(json.loads(match.group(1))), int(match.group(2))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Building ~10^6 small objects triggers full collections that scan them all again and
    again; pausing the collector makes a large decode 2-4x faster."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Node:
    """A JSON object being read, with its path for error messages."""

    __slots__ = ("data", "origin", "path")

    def __init__(self, data: Any, path: str, origin: str) -> None:
        if not isinstance(data, dict):
            raise _error(origin, path, "expected an object")
        self.data: dict[str, Any] = data
        self.path = path
        self.origin = origin

    def get(self, key: str, kind: type | tuple[type, ...], *, default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is _MISSING:
                raise _error(self.origin, self._at(key), "missing")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise _error(self.origin, self._at(key), f"expected {names}")
        return value

    def child(self, key: str) -> _Node:
        return _Node(self.get(key, dict), self._at(key), self.origin)

    def _at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key


def _error(origin: str, path: str, problem: str) -> StateError:
    return StateError(
        f"invalid state: {path or 'document'}: {problem}",
        location=SourceLocation(origin),
        hint="the file is not a fluxform state or it is damaged; restore it from its backup",
    )


def _object_id(text: str, origin: str, path: str) -> ObjectId:
    try:
        return ObjectId.parse(text)
    except ValueError as exc:
        raise _error(origin, path, f"{text!r} is not a Flux inventory id") from exc


def decode_state(text: str | bytes, origin: str) -> StateFile:
    """Parse and validate; every problem is a StateError naming `origin` and the field."""
    with _gc_paused():
        return _decode(text, origin)


def _decode(text: str | bytes, origin: str) -> StateFile:
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _error(origin, "", f"not JSON ({exc})") from exc
    root = _Node(raw, "", origin)
    _check_format(root)
    dec = _Decoder(root)
    history = tuple(dec.revision(item, f"history[{i}]") for i, item in enumerate(root.get("history", list)))
    return StateFile(
        format_version=root.get("formatVersion", int),
        lineage=_nonempty(root, "lineage"),
        serial=_serial(root),
        fluxform_version=root.get("fluxformVersion", str),
        cluster=root.get("cluster", str),
        server=root.get("server", str, default=""),
        fleet_path=root.get("fleetPath", str, default=""),
        mask_key=_mask_key(root),
        owners=dec.owners(root.get("owners", dict), "owners"),
        history=history,
        written_at=root.get("writtenAt", str, default=""),
        written_by=root.get("writtenBy", str, default=""),
        operation=root.get("operation", str, default=""),
        source_commit=root.get("sourceCommit", str, default=""),
        actions=dec.actions(root.get("actions", list, default=[]), "actions"),
        rolled_back=tuple(
            dec.rolled_back(item, f"rolledBack[{i}]") for i, item in enumerate(root.get("rolledBack", list, default=[]))
        ),
    )


def _check_format(root: _Node) -> None:
    if root.get("format", str) != FORMAT_NAME:
        raise _error(root.origin, "format", f"expected {FORMAT_NAME!r}")
    version = root.get("formatVersion", int)
    if version > FORMAT_VERSION:
        raise StateError(
            f"state format {version} is newer than this fluxform understands ({FORMAT_VERSION})",
            location=SourceLocation(root.origin),
            hint="upgrade fluxform",
        )
    if version < 1:
        raise _error(root.origin, "formatVersion", "must be at least 1")


def _nonempty(node: _Node, key: str) -> str:
    value: str = node.get(key, str)
    if not value:
        raise _error(node.origin, key, "must not be empty")
    return value


def _serial(root: _Node) -> int:
    serial: int = root.get("serial", int)
    if serial < 0:
        raise _error(root.origin, "serial", "must not be negative")
    return serial


def _mask_key(root: _Node) -> str:
    value: str = root.get("maskKey", str)
    try:
        if len(base64.b64decode(value, validate=True)) != 32:
            raise ValueError
    except (binascii.Error, ValueError) as exc:
        raise _error(root.origin, "maskKey", "expected base64 of 32 bytes") from exc
    return value


class _Decoder:
    """Resolves owner and manifest keys; equal keys decode to the same shared objects."""

    def __init__(self, root: _Node) -> None:
        self.origin = root.origin
        self._records = root.get("ownerRecords", dict)
        self._manifests = root.get("manifests", dict)
        self._owners: dict[str, OwnerState] = {}

    def revision(self, item: Any, path: str) -> Revision:
        node = _Node(item, path, self.origin)
        return Revision(
            serial=node.get("serial", int),
            written_at=node.get("writtenAt", str),
            written_by=node.get("writtenBy", str),
            operation=node.get("operation", str),
            owners=self.owners(node.get("owners", dict), f"{path}.owners"),
            source_commit=node.get("sourceCommit", str, default=""),
            actions=self.actions(node.get("actions", list, default=[]), f"{path}.actions"),
        )

    def actions(self, items: list[Any], path: str) -> tuple[ActionRecord, ...]:
        out = []
        for i, item in enumerate(items):
            node = _Node(item, f"{path}[{i}]", self.origin)
            out.append(
                ActionRecord(
                    owner=_object_id(node.get("owner", str), self.origin, f"{node.path}.owner"),
                    id=_object_id(node.get("id", str), self.origin, f"{node.path}.id"),
                    action=node.get("action", str),
                    detail=node.get("detail", str, default=""),
                )
            )
        return tuple(out)

    def rolled_back(self, item: Any, path: str) -> RolledBack:
        node = _Node(item, path, self.origin)
        return RolledBack(
            source_revision=node.get("sourceRevision", str),
            source_commit=node.get("sourceCommit", str, default=""),
            serial=node.get("serial", int),
            at=node.get("at", str),
            reason=node.get("reason", str),
        )

    def owners(self, refs: dict[str, Any], path: str) -> dict[ObjectId, OwnerState]:
        out: dict[ObjectId, OwnerState] = {}
        for inventory_id, key in refs.items():
            oid = _object_id(inventory_id, self.origin, path)
            if not isinstance(key, str) or key not in self._records:
                raise _error(self.origin, f"{path}.{inventory_id}", "refers to no owner record")
            owner = self._owner(key)
            if owner.id != oid:
                raise _error(self.origin, f"{path}.{inventory_id}", f"refers to the record of {owner.id}")
            out[oid] = owner
        return out

    def _owner(self, key: str) -> OwnerState:
        if key in self._owners:
            return self._owners[key]
        node = _Node(self._records[key], f"ownerRecords[{key}]", self.origin)
        objects = tuple(
            self._object(item, f"{node.path}.objects[{i}]") for i, item in enumerate(node.get("objects", list))
        )
        owner = OwnerState(
            id=_object_id(node.get("id", str), self.origin, f"{node.path}.id"),
            prune=node.get("prune", bool),
            source_revision=node.get("sourceRevision", str),
            applied_at=node.get("appliedAt", str),
            applied_by=node.get("appliedBy", str),
            objects=objects,
            source_digest=node.get("sourceDigest", str, default=""),
            field_manager=node.get("fieldManager", str, default=""),
        )
        self._owners[key] = owner
        return owner

    def _object(self, item: Any, path: str) -> StateObject:
        node = _Node(item, path, self.origin)
        ref = node.get("manifest", (str, type(None)), default=None)
        if ref is not None and not isinstance(self._manifests.get(ref), dict):
            raise _error(self.origin, f"{path}.manifest", "refers to no manifest")
        obj = StateObject(
            id=_object_id(node.get("id", str), self.origin, f"{path}.id"),
            api_version=node.get("apiVersion", str),
            digest=node.get("digest", str),
            manifest=None if ref is None else self._manifests[ref],
            sealed_values=_sealed(node),
        )
        check_plaintext_free(obj, origin=f"{self.origin}: {path}")
        return obj


def _sealed(node: _Node) -> str | None:
    values = node.data.get("secretValues", "omitted")
    if values == "omitted":
        return None
    sealed: str = _Node(values, f"{node.path}.secretValues", node.origin).get("age", str)
    return sealed
