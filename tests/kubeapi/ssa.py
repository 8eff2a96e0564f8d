"""Server-side apply and managedFields bookkeeping (a small structured-merge-diff).

Rules kept from the real thing:
- an Apply merges the config into the live object (maps per key, keyed lists per item,
  everything else replaced) and makes the applier own exactly the config's fields;
- changing a field another manager owns is a conflict (409) unless `force`, which moves
  ownership; setting it to the value it already has only shares ownership;
- fields the applier owned before but left out now are removed, unless someone else owns them;
- an Update (create/PUT/PATCH) gives its manager the fields it added or changed and takes
  them away from everyone else.

    merged = server_side_apply(live, config, ApplyRequest("flux", force=False, ...))
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import apply_conflict
from .fieldpaths import (
    MISSING,
    Member,
    Path,
    Schema,
    decode_fields,
    encode_fields,
    get_path,
    item_elements,
    members,
    path_string,
    remove_path,
)

__all__ = ["ApplyRequest", "ManagedEntry", "read_entries", "record_update", "server_side_apply", "write_entries"]


@dataclass(slots=True)
class ManagedEntry:
    manager: str
    operation: str  # "Apply" | "Update"
    api_version: str
    time: str
    subresource: str = ""
    fields: set[Path] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def printed(self) -> str:
        """How conflict messages name a manager (k8s fieldmanager `printManager`)."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


@dataclass(frozen=True, slots=True)
class ApplyRequest:
    manager: str
    force: bool
    schema: Schema
    api_version: str
    now: str
    subresource: str = ""


def read_entries(obj: Mapping[str, Any] | None) -> list[ManagedEntry]:
    raw = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    return [
        ManagedEntry(
            manager=str(e.get("manager", "")),
            operation=str(e.get("operation", "")),
            api_version=str(e.get("apiVersion", "")),
            time=str(e.get("time", "")),
            subresource=str(e.get("subresource", "")),
            fields=decode_fields(e.get("fieldsV1") or {}),
        )
        for e in raw
    ]


def write_entries(obj: dict[str, Any], entries: list[ManagedEntry]) -> None:
    """Store entries sorted as the API server does: operation, time, manager, version, subresource."""
    kept = sorted(
        (e for e in entries if e.fields),
        key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource),
    )
    metadata = obj.setdefault("metadata", {})
    if not kept:
        metadata.pop("managedFields", None)
        return
    encoded = []
    for e in kept:
        entry: dict[str, Any] = {
            "manager": e.manager,
            "operation": e.operation,
            "apiVersion": e.api_version,
            "time": e.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields(e.fields),
        }
        if e.subresource:
            entry["subresource"] = e.subresource
        encoded.append(entry)
    metadata["managedFields"] = encoded


def _prune(entries: list[ManagedEntry], obj: Mapping[str, Any]) -> None:
    for e in entries:
        e.fields = {p for p in e.fields if get_path(obj, p) is not MISSING}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def merge_applied(live: Any, config: Any, names: tuple[str, ...], schema: Schema) -> Any:
    """The live object with the applied config merged in (neither input is modified)."""
    if isinstance(config, Mapping) and isinstance(live, Mapping) and not schema.atomic_map(names):
        out = dict(live)
        for key, value in config.items():
            out[key] = merge_applied(live[key], value, (*names, key), schema) if key in live else copy.deepcopy(value)
        return out
    if isinstance(config, list) and isinstance(live, list) and names:
        keys = schema.list_keys(names)
        live_elements, config_elements = item_elements(live, keys), item_elements(config, keys)
        if live_elements is not None and config_elements is not None:
            result = list(live)
            position = {element: index for index, element in enumerate(live_elements)}
            for element, item in zip(config_elements, config, strict=True):
                if element in position:
                    result[position[element]] = merge_applied(live[position[element]], item, names, schema)
                else:
                    result.append(copy.deepcopy(item))
            return result
    return copy.deepcopy(config)


def _differs(before: Member | None, after: Member | None) -> bool:
    if before is None or after is None:
        return (before is None) != (after is None)
    if before.leaf or after.leaf:
        return bool(before.value != after.value)
    return False


def _is_key_field(path: Path) -> bool:
    """A field that names its list item (e.g. a container's name) goes only with the item."""
    return len(path) >= 2 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:])


def _remove_dropped(obj: Any, dropped: set[Path], kept: set[Path], others: list[ManagedEntry]) -> None:
    """Remove fields the applier gave up, unless still applied or owned by another manager;
    outermost first, so an item goes as a whole when nobody keeps any part of it."""
    removed: list[Path] = []
    for path in sorted(dropped, key=len):
        if any(path[: len(r)] == r for r in removed) or _is_key_field(path):
            continue
        if any(p[: len(path)] == path for p in kept):
            continue
        if any(p[: len(path)] == path for e in others for p in e.fields):
            continue
        remove_path(obj, path)
        removed.append(path)


def server_side_apply(live: Mapping[str, Any] | None, config: Mapping[str, Any], req: ApplyRequest) -> dict[str, Any]:
    """The object after applying `config` as `req.manager`; raises the 409 apply conflict."""
    config = _without_nulls(config)
    base = copy.deepcopy(dict(live or {}))
    entries = read_entries(live)
    base.setdefault("metadata", {}).pop("managedFields", None)
    merged: dict[str, Any] = merge_applied(base, config, (), req.schema)
    applied = set(members(config, req.schema))
    before, after = members(base, req.schema), members(merged, req.schema)
    changed = sorted(p for p in applied if _differs(before.get(p), after.get(p)))
    mine_key = (req.manager, "Apply", req.subresource)
    others = [e for e in entries if e.key != mine_key]
    conflicts = [(e, p) for e in others for p in changed if p in e.fields]
    if conflicts and not req.force:
        raise apply_conflict([(e.printed(), path_string(p)) for e, p in conflicts])
    for e, p in conflicts:
        e.fields.discard(p)
    previous = next((e.fields for e in entries if e.key == mine_key), set())
    _remove_dropped(merged, previous - applied, applied, others)
    mine = ManagedEntry(req.manager, "Apply", req.api_version, req.now, req.subresource, applied)
    entries = [*others, mine]
    _prune(entries, merged)
    write_entries(merged, entries)
    return merged


def record_update(
    old: Mapping[str, Any] | None,
    new: dict[str, Any],
    entries: list[ManagedEntry],
    req: ApplyRequest,
) -> None:
    """Set `new`'s managedFields after an Update by `req.manager` (`entries`: the base set)."""
    old_members = members(old or {}, req.schema, with_maps=True)
    new_members = members(new, req.schema, with_maps=True)
    removed = old_members.keys() - new_members.keys()
    touched = new_members.keys() - old_members.keys()
    touched |= {p for p in new_members.keys() & old_members.keys() if _differs(old_members[p], new_members[p])}
    key = (req.manager, "Update", req.subresource)
    mine = next((e for e in entries if e.key == key), None)
    for e in entries:
        if e is not mine:
            e.fields -= touched | removed
    if mine is None and touched:
        mine = ManagedEntry(req.manager, "Update", req.api_version, req.now, req.subresource)
        entries.append(mine)
    if mine is not None:
        mine.fields = (mine.fields - removed) | touched
        if touched:
            mine.time, mine.api_version = req.now, req.api_version
    _prune(entries, new)
    write_entries(new, entries)
