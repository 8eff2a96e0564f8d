"""The emulated cluster's state and the small helpers every handler shares.

state = State()
key = state.key(rtype, "default", "web")
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .catalog import ResourceType, builtin_type
from .defaults import Allocator
from .fieldpaths import Schema
from .registry import Registry
from .store import Key, Store

__all__ = ["INITIAL_NAMESPACES", "State", "now", "schema_for"]

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schema_for(rtype: ResourceType, *, status_owned: bool = False) -> Schema:
    """Field-ownership schema of a type; `status_owned` for writes to /status."""
    return Schema(rtype.kind, builtin=not rtype.custom, skip_status=rtype.status and not status_owned)


@dataclass
class State:
    store: Store = field(default_factory=Store)
    registry: Registry = field(default_factory=Registry)
    allocator: Allocator = field(default_factory=Allocator)
    # Health simulation: the (uid, generation) each object's simulated status belongs to.
    settled: dict[Key, tuple[str, int]] = field(default_factory=dict)
    # Objects written since the simulated controllers last looked (see simulation.settle_pending).
    pending: set[Key] = field(default_factory=set)

    def key(self, rtype: ResourceType, namespace: str | None, name: str) -> Key:
        return (rtype.group, rtype.plural, (namespace or "") if rtype.namespaced else "", name)

    def namespace_exists(self, namespace: str) -> bool:
        return self.store.get(("", "namespaces", "", namespace)) is not None

    def present(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of a stored object as served under `rtype`'s version."""
        out = copy.deepcopy(obj)
        out["apiVersion"], out["kind"] = rtype.api_version, rtype.kind
        return {"apiVersion": out.pop("apiVersion"), "kind": out.pop("kind"), **out}

    def seed_namespaces(self) -> None:
        rtype = builtin_type("", "Namespace")
        for name in INITIAL_NAMESPACES:
            obj = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": now(),
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            self.store.put(self.key(rtype, None, name), obj, "ADDED")
