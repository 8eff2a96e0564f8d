"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`) decoded into the JSON form
the rest of the emulator works on.

kubectl's `create namespace|secret|configmap|serviceaccount` and Helm's release storage send
their objects as protobuf: the magic `k8s\\0`, then a `runtime.Unknown` {1 TypeMeta {1
apiVersion, 2 kind}, 2 raw object, 3 contentEncoding, 4 contentType}. The raw object is decoded
with the field numbers of k8s.io/api core/v1 and k8s.io/apimachinery meta/v1 `generated.proto`
for the kinds those clients send; any other kind is a 415 naming it. Answers stay JSON, which
client-go accepts whatever it sent.

    obj = decode_protobuf(body)   # {"apiVersion": "v1", "kind": "Secret", "metadata": {...}, ...}
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, bad_request

__all__ = ["MAGIC", "PROTOBUF", "decode_protobuf"]

PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: str  # string | bytes | int | bool | time | raw-json | map-string | map-bytes | message
    repeated: bool = False
    message: dict[int, _Field] | None = None
    pointer: bool = False  # a Go pointer field: a zero value was set on purpose and is kept


def _s(name: str, repeated: bool = False) -> _Field:
    return _Field(name, "string", repeated)


def _m(name: str, message: dict[int, _Field], repeated: bool = False) -> _Field:
    return _Field(name, "message", repeated, message)


# k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
_OWNER_REFERENCE = {
    1: _s("kind"),
    3: _s("name"),
    4: _s("uid"),
    5: _s("apiVersion"),
    6: _Field("controller", "bool"),
    7: _Field("blockOwnerDeletion", "bool"),
}
_MANAGED_FIELDS_ENTRY = {
    1: _s("manager"),
    2: _s("operation"),
    3: _s("apiVersion"),
    4: _Field("time", "time"),
    6: _s("fieldsType"),
    7: _Field("fieldsV1", "raw-json"),
    8: _s("subresource"),
}
_OBJECT_META = {
    1: _s("name"),
    2: _s("generateName"),
    3: _s("namespace"),
    4: _s("selfLink"),
    5: _s("uid"),
    6: _s("resourceVersion"),
    7: _Field("generation", "int"),
    8: _Field("creationTimestamp", "time"),
    9: _Field("deletionTimestamp", "time"),
    10: _Field("deletionGracePeriodSeconds", "int", pointer=True),
    11: _Field("labels", "map-string"),
    12: _Field("annotations", "map-string"),
    13: _m("ownerReferences", _OWNER_REFERENCE, repeated=True),
    14: _s("finalizers", repeated=True),
    17: _m("managedFields", _MANAGED_FIELDS_ENTRY, repeated=True),
}
_PRECONDITIONS = {1: _s("uid"), 2: _s("resourceVersion")}
_DELETE_OPTIONS = {
    1: _Field("gracePeriodSeconds", "int", pointer=True),
    2: _m("preconditions", _PRECONDITIONS),
    3: _Field("orphanDependents", "bool"),
    4: _s("propagationPolicy"),
    5: _s("dryRun", repeated=True),
    6: _Field("ignoreStoreReadErrorWithClusterBreakingPotential", "bool"),
}

# k8s.io/api/core/v1/generated.proto
_OBJECT_REFERENCE = {
    1: _s("kind"),
    2: _s("namespace"),
    3: _s("name"),
    4: _s("uid"),
    5: _s("apiVersion"),
    6: _s("resourceVersion"),
    7: _s("fieldPath"),
}
_NAMESPACE_CONDITION = {
    1: _s("type"),
    2: _s("status"),
    4: _Field("lastTransitionTime", "time"),
    5: _s("reason"),
    6: _s("message"),
}
_KINDS: dict[tuple[str, str], dict[int, _Field]] = {
    ("v1", "Secret"): {
        1: _m("metadata", _OBJECT_META),
        2: _Field("data", "map-bytes"),
        3: _s("type"),
        4: _Field("stringData", "map-string"),
        5: _Field("immutable", "bool"),
    },
    ("v1", "ConfigMap"): {
        1: _m("metadata", _OBJECT_META),
        2: _Field("data", "map-string"),
        3: _Field("binaryData", "map-bytes"),
        4: _Field("immutable", "bool"),
    },
    ("v1", "Namespace"): {
        1: _m("metadata", _OBJECT_META),
        2: _m("spec", {1: _s("finalizers", repeated=True)}),
        3: _m("status", {1: _s("phase"), 2: _m("conditions", _NAMESPACE_CONDITION, repeated=True)}),
    },
    ("v1", "ServiceAccount"): {
        1: _m("metadata", _OBJECT_META),
        2: _m("secrets", _OBJECT_REFERENCE, repeated=True),
        3: _m("imagePullSecrets", {1: _s("name")}, repeated=True),
        4: _Field("automountServiceAccountToken", "bool"),
    },
    # client-go sends DeleteOptions as meta.k8s.io/v1 or as v1 (the core group's copy)
    ("v1", "DeleteOptions"): _DELETE_OPTIONS,
    ("meta.k8s.io/v1", "DeleteOptions"): _DELETE_OPTIONS,
}
_UNKNOWN = {1: _m("typeMeta", {1: _s("apiVersion"), 2: _s("kind")}), 2: _Field("raw", "bytes")}


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """The object a protobuf request body carries, as the JSON the API would accept."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body without the k8s\\x00 prefix")
    try:
        envelope = _decode(body[len(MAGIC) :], _UNKNOWN)
        type_meta = envelope.get("typeMeta") or {}
        api_version, kind = str(type_meta.get("apiVersion", "")), str(type_meta.get("kind", ""))
        schema = _KINDS.get((api_version, kind))
        if schema is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the kubeapi emulator decodes protobuf bodies of {', '.join(sorted({k for _, k in _KINDS}))} "
                f"only, not {kind or 'an untyped object'} ({api_version or 'no apiVersion'}); send JSON",
            )
        obj = _decode(envelope.get("raw") or b"", schema)
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"cannot decode the protobuf body: {exc}") from exc
    return {"apiVersion": api_version, "kind": kind, **obj}


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of every field in order."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, at = _varint(data, at)
            yield number, wire, value
        elif wire == _LENGTH:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ValueError(f"field {number} runs past the end of the body")
            yield number, wire, data[at : at + size]
            at += size
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            yield number, wire, data[at : at + width]
            at += width
        else:
            raise ValueError(f"unsupported wire type {wire} for field {number}")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


#: Go's zero time.Time (year 1), which client-go sends for an unset creationTimestamp.
_ZERO_TIME = -62135596800


def _time(data: bytes) -> str:
    """RFC 3339 seconds, as metav1.Time marshals to JSON; "" for the zero time (dropped)."""
    parts = {number: value for number, _, value in _fields(data) if isinstance(value, int)}
    seconds = _signed(parts.get(1, 0))
    if seconds <= _ZERO_TIME:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map_entry(data: bytes, value_kind: str) -> tuple[str, Any]:
    key, value = "", b""
    for number, _, raw in _fields(data):
        if number == 1 and isinstance(raw, bytes):
            key = raw.decode()
        elif number == 2 and isinstance(raw, bytes):
            value = raw
    if value_kind == "map-bytes":
        return key, base64.b64encode(value).decode("ascii")
    return key, value.decode()


_SCALARS: dict[str, Callable[[int | bytes], Any]] = {
    "string": lambda raw: raw.decode() if isinstance(raw, bytes) else str(raw),
    "int": lambda raw: _signed(raw) if isinstance(raw, int) else 0,
    "bool": lambda raw: bool(raw),
    "time": lambda raw: _time(raw) if isinstance(raw, bytes) else "",
}


def _decode(data: bytes, schema: dict[int, _Field]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, _, raw in _fields(data):
        field = schema.get(number)
        if field is None:
            continue  # a field newer than this table: dropped, as an old server would
        if field.kind == "bytes":  # only the envelope's raw object: decoded by the caller
            out[field.name] = raw
            continue
        if field.kind in ("map-string", "map-bytes"):
            key, entry = _map_entry(raw if isinstance(raw, bytes) else b"", field.kind)
            out.setdefault(field.name, {})[key] = entry
            continue
        if field.kind == "raw-json":
            fields_v1 = {n: v for n, _, v in _fields(raw) if isinstance(v, bytes)} if isinstance(raw, bytes) else {}
            value: Any = json.loads(fields_v1.get(1) or b"{}")
        elif field.kind == "message":
            assert field.message is not None
            value = _decode(raw if isinstance(raw, bytes) else b"", field.message)
        else:
            value = _SCALARS[field.kind](raw)
            if value in ("", 0) and not field.pointer and not field.repeated and field.kind != "bool":
                continue  # gogo writes every non-pointer field; JSON's omitempty would not
        if field.repeated:
            out.setdefault(field.name, []).append(value)
        else:
            out[field.name] = value
    return out
