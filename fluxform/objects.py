"""Object identity shared by every layer: Flux inventory ids and source locations.

Lives at the package root (not in planner/) because decrypt/, state/ and cluster/ all
need it and must not import the planner.

    >>> ObjectId.parse("default_podinfo_apps_Deployment")
    ObjectId(namespace='default', name='podinfo', group='apps', kind='Deployment')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RBAC_KINDS", "ObjectId", "SourceLocation"]

#: Kinds whose names may contain ':' which Flux writes as '__' in inventory ids.
RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


@dataclass(frozen=True, order=True, slots=True)
class ObjectId:
    """Flux inventory identity. No version: one object is served under several versions."""

    namespace: str  # "" for cluster-scoped
    name: str
    group: str  # "" for the core group
    kind: str

    def inventory_id(self) -> str:
        """Flux's `<namespace>_<name>_<group>_<Kind>`, RBAC ':' written as '__'."""
        name = self.name.replace(":", "__") if self.kind in RBAC_KINDS else self.name
        return f"{self.namespace}_{name}_{self.group}_{self.kind}"

    @classmethod
    def parse(cls, inventory_id: str) -> ObjectId:
        """Parse an inventory id the way Flux does: namespace up to the first '_',
        kind after the last, group after the new last, the rest is the name."""
        first = inventory_id.find("_")
        last = inventory_id.rfind("_")
        if first < 0 or first == last:
            raise ValueError(f"not a Flux inventory id: {inventory_id!r}")
        namespace, rest, kind = inventory_id[:first], inventory_id[first + 1 : last], inventory_id[last + 1 :]
        group_sep = rest.rfind("_")
        if group_sep < 0:
            raise ValueError(f"not a Flux inventory id: {inventory_id!r}")
        name, group = rest[:group_sep], rest[group_sep + 1 :]
        if not name or not kind:
            raise ValueError(f"not a Flux inventory id: {inventory_id!r}")
        if kind in RBAC_KINDS:
            name = name.replace("__", ":")
        return cls(namespace=namespace, name=name, group=group, kind=kind)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> ObjectId:
        """Identity of a manifest; a missing field yields '' (callers validate first)."""
        api_version = str(manifest.get("apiVersion") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        meta = manifest.get("metadata") or {}
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            group=group,
            kind=str(manifest.get("kind") or ""),
        )

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def __str__(self) -> str:
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a thing came from: a path (relative to the fleet root when known), a line, a doc."""

    path: str
    line: int | None = None
    document: int | None = None

    def __str__(self) -> str:
        out = self.path
        if self.line is not None:
            out += f":{self.line}"
        if self.document is not None:
            out += f" (document {self.document})"
        return out
