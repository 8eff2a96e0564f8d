"""Client-side comparison of a desired manifest with the live object, through managed fields.

Used where no dry-run is needed or possible: an object whose every desired field already
has that value live, and none of whose fields the applier owned before is now dropped,
cannot change under server-side apply, so the dry-run is skipped; and when dry-runs are
forbidden (read-only credentials), `predict` estimates the post-apply object. The estimate
merges maps per key and named list items by name; it cannot know every list's merge
strategy or canonicalise quantities (`0.5` vs `500m`), so it may call an unchanged object
changed, never the reverse for the fields it compares.

    if covers(desired, live) and not dropped_fields(live, desired, "kustomize-controller"): ...
    after = predict(live, desired, "kustomize-controller")
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

from fluxform.cluster.normalize import comparable, semantic_equal

__all__ = ["covers", "dropped_fields", "predict"]

_MISSING = object()
Step = tuple[str, str]  # ("f", field) | ("k", json key) | ("v", json value) | ("i", index)


def covers(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """Every field the desired manifest sets (labels, annotations, body) has that value live."""
    return _covers(_applied(desired), _applied(live))


def dropped_fields(live: Mapping[str, Any], desired: Mapping[str, Any], manager: str) -> list[str]:
    """Fields `manager` applied before (managedFields, operation Apply) that the desired
    manifest no longer sets: server-side apply would remove them."""
    return [_path_text(steps) for steps in _dropped(live, desired, manager)]


def predict(live: Mapping[str, Any], desired: Mapping[str, Any], manager: str) -> dict[str, Any]:
    """The live object as applying `desired` would probably leave it (see module notes)."""
    merged: dict[str, Any] = _merge(comparable(live), _applied(desired))
    for steps in _dropped(live, desired, manager):
        _delete(merged, steps)
    for key in ("labels", "annotations"):
        if not merged["metadata"].get(key):
            merged["metadata"].pop(key, None)
    return merged


def _applied(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What apply compares: labels, annotations and the body (no status, no identity)."""
    out = {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
    out["metadata"] = _labels_and_annotations(obj)
    return out


def _labels_and_annotations(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}


def _covers(desired: Any, live: Any) -> bool:
    if desired is None:
        return live is None or live is _MISSING
    if isinstance(desired, dict):
        if live is _MISSING or live is None:
            return not desired
        return isinstance(live, dict) and all(_covers(v, live.get(k, _MISSING)) for k, v in desired.items())
    if isinstance(desired, list):
        if live is _MISSING or live is None:
            return not desired
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        pairs = _pair_items(desired, live)
        return pairs is not None and all(_covers(d, lv) for d, lv in pairs)
    return semantic_equal(desired, live)


def _pair_items(desired: list[Any], live: list[Any]) -> list[tuple[Any, Any]] | None:
    """Named items pair by name (containers, ports, volumes...), others by position."""
    if _all_named(desired) and _all_named(live):
        by_name = {item["name"]: item for item in live}
        return [(item, by_name.get(item["name"], _MISSING)) for item in desired]
    return list(zip(desired, live, strict=True)) if len(desired) == len(live) else None


def _all_named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items)


def _merge(live: Any, desired: Any) -> Any:
    if isinstance(desired, dict) and isinstance(live, dict):
        out = dict(live)
        for key, value in desired.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(live.get(key), value)
        return out
    if isinstance(desired, list) and isinstance(live, list):
        if _all_named(desired) and _all_named(live):
            by_name = {item["name"]: item for item in live}
            return [_merge(by_name.get(item["name"]), item) for item in desired]
        if len(desired) == len(live) and all(isinstance(i, dict) for i in desired + live):
            return [_merge(lv, d) for lv, d in zip(live, desired, strict=True)]
    return copy.deepcopy(desired)


def _dropped(live: Mapping[str, Any], desired: Mapping[str, Any], manager: str) -> list[list[Step]]:
    applied = _applied(desired)
    out: list[list[Step]] = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        fields = entry.get("fieldsV1") or {}
        out += [steps for steps in _missing(fields, applied, []) if _compared(steps)]
    return out


def _compared(steps: list[Step]) -> bool:
    """Only what apply compares: metadata labels/annotations and the body."""
    if not steps or steps[0] == ("f", "status"):
        return False
    if steps[0] == ("f", "metadata"):
        return len(steps) > 1 and steps[1] in (("f", "labels"), ("f", "annotations"))
    return steps[0] not in (("f", "apiVersion"), ("f", "kind"))


def _missing(fields: Mapping[str, Any], desired: Any, prefix: list[Step]) -> Iterator[list[Step]]:
    for key, sub in fields.items():
        if key == ".":
            continue
        kind, _, raw = key.partition(":")
        steps = [*prefix, (kind, raw)]
        child = _child(desired, kind, raw)
        if child is _MISSING:
            yield steps
        elif isinstance(sub, dict) and any(k != "." for k in sub):
            yield from _missing(sub, child, steps)


def _child(node: Any, kind: str, raw: str) -> Any:
    if kind == "f":
        return node[raw] if isinstance(node, dict) and raw in node and node[raw] is not None else _MISSING
    if not isinstance(node, list):
        return _MISSING
    if kind == "i":
        return node[int(raw)] if raw.isdigit() and int(raw) < len(node) else _MISSING
    try:
        value = json.loads(raw)
    except ValueError:
        return _MISSING
    if kind == "v":
        return value if any(semantic_equal(value, item) for item in node) else _MISSING
    if kind == "k" and isinstance(value, dict):
        return next((item for item in node if _key_matches(item, value)), _MISSING)
    return _MISSING


def _key_matches(item: Any, key: Mapping[str, Any]) -> bool:
    """A keyed item matches when every key field it sets agrees (a defaulted key field, like a
    port's protocol, may be absent from the desired item)."""
    if not isinstance(item, dict):
        return False
    present = [k for k in key if k in item]
    return bool(present) and all(semantic_equal(item[k], key[k]) for k in present)


def _delete(node: Any, steps: list[Step]) -> None:
    for index, (kind, raw) in enumerate(steps):
        last = index == len(steps) - 1
        if kind == "f" and isinstance(node, dict):
            if last:
                node.pop(raw, None)
                return
            node = node.get(raw)
            continue
        if not isinstance(node, list):
            return
        child = _child(node, kind, raw)
        if child is _MISSING:
            return
        if last:
            node.remove(child)
            return
        node = child


def _path_text(steps: list[Step]) -> str:
    parts: list[str] = []
    for kind, raw in steps:
        parts.append(f".{raw}" if kind == "f" else f"[{raw}]")
    return "".join(parts).lstrip(".")
