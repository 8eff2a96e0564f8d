"""Flux's apply order inside one owner: the stage split and the kind order (fluxcd/pkg ssa
`ApplyAllStaged` and `sort.go`, flux-semantics 4.3).

Stage 1 holds the cluster definitions (CustomResourceDefinitions, Namespaces, ClusterRoles),
applied and waited for before anything else, because the rest needs them served; stage 2 the
kinds ending in `Class`, waited for too; stage 3 everything else. Inside a stage objects go
by kind rank, then group, kind, namespace and name. Garbage collection deletes in the
reverse order, so webhooks go first and Namespaces and CRDs last.

    for stage, ids in staged(ids):
        ...                          # Stage.DEFINITIONS first
    prune_order(ids)                 # reverse apply order
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import TypeVar

from fluxform.objects import ObjectId

__all__ = ["KIND_ORDER", "Stage", "apply_key", "prune_order", "stage_of", "staged"]

T = TypeVar("T")

#: ssa sort.go: kinds in this order first, any other kind after them, webhooks last.
KIND_ORDER = (
    "CustomResourceDefinition",
    "Namespace",
    "ClusterRole",
    "ClusterClass",
    "RuntimeClass",
    "PriorityClass",
    "StorageClass",
    "VolumeSnapshotClass",
    "IngressClass",
    "GatewayClass",
    "ClusterRoleBinding",
    "ResourceQuota",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "LimitRange",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
)
_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
_OTHER = len(KIND_ORDER)
_DEFINITIONS = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("", "Namespace"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
}


class Stage(IntEnum):
    DEFINITIONS = 1  # CRDs, Namespaces, ClusterRoles: applied, then waited for
    CLASSES = 2  # kinds ending in `Class`: applied, then waited for
    REST = 3  # everything else

    @property
    def waited(self) -> bool:
        """Whether Flux waits for the stage's objects before the next stage starts."""
        return self is not Stage.REST

    def describe(self) -> str:
        return {1: "cluster definitions", 2: "classes", 3: "resources"}[self.value]


def stage_of(oid: ObjectId) -> Stage:
    if (oid.group, oid.kind) in _DEFINITIONS:
        return Stage.DEFINITIONS
    if oid.kind.endswith("Class"):
        return Stage.CLASSES
    return Stage.REST


def apply_key(oid: ObjectId) -> tuple[int, int, str, str, str, str]:
    """The sort key of Flux's apply order: stage, kind rank, group, kind, namespace, name."""
    rank = _RANK.get(oid.kind, _OTHER + 1 + _LAST.index(oid.kind) if oid.kind in _LAST else _OTHER)
    return (int(stage_of(oid)), rank, oid.group, oid.kind, oid.namespace, oid.name)


def staged(items: Iterable[T], key: Callable[[T], ObjectId]) -> list[tuple[Stage, list[T]]]:
    """`items` split into Flux's stages (empty stages left out), each in apply order."""
    ordered = sorted(items, key=lambda item: apply_key(key(item)))
    out: list[tuple[Stage, list[T]]] = []
    for item in ordered:
        stage = stage_of(key(item))
        if not out or out[-1][0] is not stage:
            out.append((stage, []))
        out[-1][1].append(item)
    return out


def prune_order(items: Sequence[T], key: Callable[[T], ObjectId]) -> list[T]:
    """Garbage collection's order: the reverse of the apply order."""
    return sorted(items, key=lambda item: apply_key(key(item)), reverse=True)
