"""The set of served types: built-ins plus whatever established CRDs add.

Discovery, routing and storage all ask the registry, so applying or deleting a CRD
changes what every client sees on its next discovery read.

    registry.add_crd(crd)                  # after the CRD object is stored
    registry.lookup("example.com", "v1", "widgets")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalog import BUILTIN_TYPES, ResourceType, version_priority

__all__ = ["Registry", "crd_types"]


def crd_types(crd: Mapping[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    kind = str(names.get("kind", ""))
    types: list[ResourceType] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        types.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(version.get("name", "")),
                kind=kind,
                plural=str(names.get("plural", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=str(names.get("singular") or kind.lower()),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subresources,
                generation=True,
                custom=True,
            )
        )
    return types


class Registry:
    """Lookup tables of served types; not thread-safe by itself (the store's lock guards it)."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_keys: dict[str, list[tuple[str, str, str]]] = {}
        self._group_order: list[str] = []
        for rtype in BUILTIN_TYPES:
            self._add(rtype)

    def _add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        if rtype.group not in self._group_order:
            self._group_order.append(rtype.group)

    def add_crd(self, crd: Mapping[str, Any]) -> None:
        """(Re)register a CRD's served versions, replacing what it served before."""
        name = str((crd.get("metadata") or {}).get("name", ""))
        self.remove_crd(name)
        keys = []
        for rtype in crd_types(crd):
            self._add(rtype)
            keys.append((rtype.group, rtype.version, rtype.plural))
        self._crd_keys[name] = keys

    def remove_crd(self, name: str) -> None:
        for key in self._crd_keys.pop(name, []):
            self._types.pop(key, None)
        served_groups = {group for group, _, _ in self._types}
        self._group_order = [g for g in self._group_order if g in served_groups]

    def clear_crds(self) -> None:
        for name in list(self._crd_keys):
            self.remove_crd(name)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        """The preferred served version of (group, kind)."""
        matches = [t for t in self._types.values() if t.group == group and t.kind == kind]
        return min(matches, key=lambda t: version_priority(t.version)) if matches else None

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.plural == plural]

    def groups(self) -> list[tuple[str, list[str]]]:
        """(group, versions with the preferred one first), core group "" included, in serving order."""
        result = []
        for group in self._group_order:
            versions = sorted({v for g, v, _ in self._types if g == group}, key=version_priority)
            result.append((group, versions))
        return result

    def resources(self, group: str, version: str) -> list[ResourceType]:
        return [t for (g, v, _), t in self._types.items() if g == group and v == version]
