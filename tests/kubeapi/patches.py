"""PATCH bodies other than server-side apply: JSON merge, JSON patch, strategic merge.

Strategic merge is an approximation: a JSON merge patch in which lists the built-in
schemas key (containers by name, ports by containerPort/port, env by name, ...) merge
item by item, `$patch: delete` / `$patch: replace` work on list items and maps, and the
`$setElementOrder/`, `$retainKeys`, `$deleteFromPrimitiveList/` directives kubectl sends
are dropped. Other lists are replaced, as with merge patch.

    merged = merge_patch(live, {"spec": {"replicas": 3}})
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request

__all__ = ["json_patch", "merge_patch", "strategic_merge_patch"]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: null deletes, objects merge, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Merge keys of the built-in strategic-merge lists (patchMergeKey in the Go types).
_SMP_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
}


def _smp_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return _SMP_KEYS.get(field)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    return _smp(target, patch, "")


def _smp(target: Any, patch: Any, field: str) -> Any:
    if isinstance(patch, list):
        return _smp_list(target, patch, field)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = _smp(result.get(key), value, key)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    return result


def _smp_list(target: Any, patch: list[Any], field: str) -> list[Any]:
    key = _smp_key(field, patch)
    if key is None or not isinstance(target, list):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch"))]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = list(target)
    for item in patch:
        index = next(
            (
                n
                for n, live in enumerate(result)
                if isinstance(live, dict) and isinstance(item, dict) and live.get(key) == item.get(key)
            ),
            -1,
        )
        if isinstance(item, dict) and item.get("$patch") == "delete":
            if index >= 0:
                del result[index]
        elif index >= 0:
            result[index] = _smp(result[index], item, field)
        else:
            result.append(_smp(None, item, field))
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str]) -> Any:
    current = doc
    for token in tokens[:-1]:
        current = current[int(token)] if isinstance(current, list) else current[token]
    return current


def _get(doc: Any, tokens: list[str]) -> Any:
    return _parent(doc, [*tokens, ""]) if tokens else doc


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    parent, last = _parent(doc, tokens), tokens[-1]
    value = parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)
    return value


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    kind, tokens = op.get("op"), _pointer(str(op.get("path", "")))
    if kind == "add":
        return _add(doc, tokens, copy.deepcopy(op.get("value")))
    if kind == "remove":
        _remove(doc, tokens)
        return doc
    if kind == "replace":
        _get(doc, tokens)
        if not tokens:
            return copy.deepcopy(op.get("value"))
        _remove(doc, tokens)
        return _add(doc, tokens, copy.deepcopy(op.get("value")))
    if kind in ("move", "copy"):
        source = _pointer(str(op.get("from", "")))
        value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
        return _add(doc, tokens, value)
    if kind == "test":
        if _get(doc, tokens) != op.get("value"):
            raise ApiError(422, "Invalid", f"the server rejected our request: test failed at {op.get('path')}")
        return doc
    raise bad_request(f"unknown JSON patch operation {kind!r}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 on a copy of `target`."""
    if not isinstance(operations, list):
        raise bad_request("json patch body must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        try:
            doc = _apply_op(doc, op)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            message = f"the server rejected our request due to an error in our request: {op.get('op')} {op.get('path')}"
            raise ApiError(422, "Invalid", message) from exc
    return doc
