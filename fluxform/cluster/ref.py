"""Which object a call is about: its REST mapping, namespace and name, and how messages name it.

ref = ObjectRef.of(mapping, manifest)      # namespace dropped for a cluster-scoped kind
ref.path                                   # /apis/apps/v1/namespaces/web/deployments/frontend
str(ref)                                   # Deployment/web/frontend
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fluxform.cluster.mapping import KindMapping
from fluxform.objects import ObjectId

__all__ = ["ObjectRef"]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    mapping: KindMapping
    namespace: str  # "" for cluster-scoped kinds
    name: str

    @classmethod
    def of(cls, mapping: KindMapping, manifest: Mapping[str, Any]) -> ObjectRef:
        meta = manifest.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if mapping.namespaced else ""
        return cls(mapping, namespace, str(meta.get("name") or ""))

    @property
    def path(self) -> str:
        return self.mapping.object_path(self.namespace, self.name)

    @property
    def object_id(self) -> ObjectId:
        return ObjectId(self.namespace, self.name, self.mapping.group, self.mapping.kind)

    def __str__(self) -> str:
        return str(self.object_id)
