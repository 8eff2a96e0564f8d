"""Field paths and field sets, the vocabulary of managedFields (`fieldsV1`).

A path is a tuple of encoded elements as they appear in fieldsV1: `f:spec`,
`k:{"name":"web"}` (an item of a list keyed by name), `v:"x"` (an item of a set list).
Which lists are keyed follows the built-in Kubernetes schemas for the lists that matter
(containers, ports, env, volumes, ...); any other list is atomic, as are all lists of
custom resources (no CRD schema is consulted).

    members(obj, Schema("Deployment", builtin=True))   # {path: value} of owned leaves and items
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "MISSING",
    "Member",
    "Path",
    "Schema",
    "decode_fields",
    "encode_fields",
    "get_path",
    "item_elements",
    "members",
    "path_string",
    "remove_path",
]

Path = tuple[str, ...]
MISSING: Any = object()

_KEYED_LISTS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "volumes": ("name",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": ("name",),
    "readinessGates": ("conditionType",),
    "conditions": ("type",),
    "webhooks": ("name",),
}
_KEY_DEFAULTS = {"protocol": "TCP"}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# Metadata a server sets itself; never owned by a field manager.
_SERVER_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "generateName",
    }
)
_SELECTOR_FIELDS = frozenset({"labelSelector", "podSelector", "namespaceSelector", "objectSelector"})
# Go struct fields that always exist, so an Update never "adds" them (no `.` member).
_ALWAYS_PRESENT = frozenset({"metadata", "spec", "status", "template", "strategy", "updateStrategy", "jobTemplate"})


@dataclass(frozen=True, slots=True)
class Schema:
    """How to walk one kind: which lists are keyed and whether status is someone else's."""

    kind: str
    builtin: bool
    skip_status: bool = False  # status belongs to the /status subresource

    def list_keys(self, names: tuple[str, ...]) -> tuple[str, ...] | None:
        """Key fields of the list at `names` (field names from the root); () for a set
        of scalars; None for an atomic list."""
        field = names[-1]
        if names[:-1] == ("metadata",):
            return {"finalizers": (), "ownerReferences": ("uid",)}.get(field)
        if not self.builtin:
            return None
        if field == "ports":
            if self.kind == "Service" and names == ("spec", "ports"):
                return ("port", "protocol")
            in_container = len(names) >= 2 and names[-2] in _CONTAINER_LISTS
            return ("containerPort", "protocol") if in_container else None
        if self.kind == "CustomResourceDefinition" and names == ("spec", "versions"):
            return ("name",)
        return _KEYED_LISTS.get(field)

    def atomic_map(self, names: tuple[str, ...]) -> bool:
        """Maps replaced and owned as a whole: the built-in LabelSelectors."""
        if not self.builtin or not names:
            return False
        if names[-1] == "selector":
            return not (self.kind == "Service" and names == ("spec", "selector"))
        return names[-1] in _SELECTOR_FIELDS

    def skipped(self, names: tuple[str, ...]) -> bool:
        if len(names) == 1:
            return names[0] in ("apiVersion", "kind") or (self.skip_status and names[0] == "status")
        return len(names) == 2 and names[0] == "metadata" and names[1] in _SERVER_METADATA


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _item_element(item: Any, keys: tuple[str, ...]) -> str | None:
    if not keys:
        return "v:" + _canonical(item)
    if not isinstance(item, Mapping):
        return None
    key_values = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys}
    if any(v is None for k, v in key_values.items() if k not in _KEY_DEFAULTS):
        return None
    return "k:" + _canonical({k: v for k, v in key_values.items() if v is not None})


def item_elements(items: list[Any], keys: tuple[str, ...] | None) -> list[str] | None:
    """Elements for each item of a list, or None when the list must be treated as atomic."""
    if keys is None:
        return None
    elements = [_item_element(item, keys) for item in items]
    if any(e is None for e in elements) or len(set(elements)) != len(elements):
        return None
    return [e for e in elements if e is not None]


class Member(NamedTuple):
    leaf: bool  # leaves compare by value; maps and list items only by presence
    value: Any


def members(obj: Mapping[str, Any], schema: Schema, *, with_maps: bool = False) -> dict[Path, Member]:
    """Every owned path of `obj`: leaves (scalars, atomic lists and maps, empty maps) and
    keyed/set list items; with `with_maps`, non-empty maps too (Update sets)."""
    out: dict[Path, Member] = {}
    _walk(obj, (), (), schema, with_maps, out)
    return out


def _walk(
    value: Any, path: Path, names: tuple[str, ...], schema: Schema, with_maps: bool, out: dict[Path, Member]
) -> None:
    if isinstance(value, Mapping) and not (path and schema.atomic_map(names)):
        if path and not value:
            out[path] = Member(True, value)
        elif path and with_maps and names[-1] not in _ALWAYS_PRESENT:
            out[path] = Member(False, value)
        for key, child in value.items():
            if not schema.skipped((*names, key)):
                _walk(child, (*path, f"f:{key}"), (*names, key), schema, with_maps, out)
        return
    if isinstance(value, list) and value:
        elements = item_elements(value, schema.list_keys(names))
        if elements is not None:
            for element, item in zip(elements, value, strict=True):
                out[(*path, element)] = Member(not isinstance(item, Mapping), item)
                if isinstance(item, Mapping):
                    for key, child in item.items():
                        _walk(child, (*path, element, f"f:{key}"), (*names, key), schema, with_maps, out)
            return
    out[path] = Member(True, value)


def _find_item(items: list[Any], element: str) -> int:
    wanted = json.loads(element[2:])
    for index, item in enumerate(items):
        if element.startswith("v:"):
            if item == wanted:
                return index
        elif isinstance(item, Mapping) and all(item.get(k, _KEY_DEFAULTS.get(k)) == v for k, v in wanted.items()):
            return index
    return -1


def _step(current: Any, element: str) -> Any:
    if element.startswith("f:"):
        return current.get(element[2:], MISSING) if isinstance(current, Mapping) else MISSING
    if not isinstance(current, list):
        return MISSING
    if element.startswith("i:"):
        index = int(element[2:])
        return current[index] if 0 <= index < len(current) else MISSING
    index = _find_item(current, element)
    return current[index] if index >= 0 else MISSING


def get_path(obj: Any, path: Path) -> Any:
    current = obj
    for element in path:
        current = _step(current, element)
        if current is MISSING:
            return MISSING
    return current


def remove_path(obj: Any, path: Path) -> bool:
    """Remove the field or list item at `path`; then drop maps and lists the removal emptied.
    Returns whether anything was removed."""
    parent = get_path(obj, path[:-1])
    element = path[-1]
    if element.startswith("f:") and isinstance(parent, dict) and element[2:] in parent:
        del parent[element[2:]]
    elif isinstance(parent, list) and element[:2] in ("k:", "v:") and (index := _find_item(parent, element)) >= 0:
        del parent[index]
    else:
        return False
    if len(path) > 1 and not parent:
        remove_path(obj, path[:-1])
    return True


def encode_fields(paths: Iterable[Path]) -> dict[str, Any]:
    """fieldsV1 JSON: a member with children carries `.`; one without is `{}`."""
    root: dict[str, Any] = {}
    member_nodes: list[dict[str, Any]] = []
    for path in paths:
        node = root
        for element in path:
            node = node.setdefault(element, {})
        member_nodes.append(node)
    for node in member_nodes:
        if node:
            node["."] = {}
    return _sorted(root)


def _sorted(node: dict[str, Any]) -> dict[str, Any]:
    return {key: _sorted(node[key]) for key in sorted(node, key=lambda k: (k != ".", k))}


def decode_fields(fields: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for element, child in fields.items():
        if element == ".":
            paths.add(prefix)
            continue
        path = (*prefix, element)
        if not child:
            paths.add(path)
        else:
            paths |= decode_fields(child, path)
    return paths


def path_string(path: Path) -> str:
    """The structured-merge-diff rendering used in conflict messages, e.g.
    `.spec.template.spec.containers[name="web"].image`."""
    text = []
    for element in path:
        kind, body = element[:2], element[2:]
        if kind == "f:":
            text.append(f".{body}")
        elif kind == "k:":
            keys = json.loads(body)
            text.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        elif kind == "v:":
            text.append(f"[={body}]")
        else:
            text.append(f"[{body}]")
    return "".join(text)
