"""Flux's per-object rules for a plan against a live cluster (flux-semantics 4.4, 4.6) and the
field manager choice (design: "Living beside Flux's controllers").

A policy matches when a label **or** an annotation with that key has the value (compared
case-insensitively), on the desired object or the live one, as kustomize-controller's
`AnyInMetadata` does.

    skip_reason(desired, live)       # "kustomize.toolkit.fluxcd.io/reconcile: disabled" or ""
    managers = FieldManagers.choose(flux_installed=True, override="")
    managers.for_owner(owner_id)     # "kustomize-controller"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fluxform.objects import ObjectId

__all__ = [
    "FLUX_GROUPS",
    "FieldManagers",
    "force_enabled",
    "has_policy",
    "owner_mismatch",
    "prune_blocked",
    "skip_reason",
]

RECONCILE = "kustomize.toolkit.fluxcd.io/reconcile"
SSA = "kustomize.toolkit.fluxcd.io/ssa"
PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FORCE = "kustomize.toolkit.fluxcd.io/force"
_OWNER_LABELS = {
    "Kustomization": ("kustomize.toolkit.fluxcd.io/name", "kustomize.toolkit.fluxcd.io/namespace"),
    "HelmRelease": ("helm.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/namespace"),
}
#: API groups of Flux's own kinds: not applied when the cluster has no Flux (fluxform does their work).
FLUX_GROUPS = frozenset(
    {
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "source.toolkit.fluxcd.io",
        "source.extensions.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
    }
)
FLUX_MARKER = ("kustomize.toolkit.fluxcd.io", "Kustomization")  # served => Flux is installed


def has_policy(obj: Mapping[str, Any] | None, key: str, value: str) -> bool:
    if obj is None:
        return False
    meta = obj.get("metadata") or {}
    for field in ("labels", "annotations"):
        found = (meta.get(field) or {}).get(key)
        if isinstance(found, str) and found.lower() == value:
            return True
    return False


def skip_reason(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> str:
    """Why Flux would skip applying this object ("" when it would apply it). Skipped objects
    stay in the inventory: never pruned, never health-checked."""
    for obj in (desired, live):
        if has_policy(obj, RECONCILE, "disabled"):
            return f"skipped: {RECONCILE}: disabled"
        if has_policy(obj, SSA, "ignore"):
            return f"skipped: {SSA}: Ignore"
    if live is not None and has_policy(desired, SSA, "ifnotpresent"):
        return f"skipped: {SSA}: IfNotPresent and it exists"
    return ""


def prune_blocked(obj: Mapping[str, Any] | None) -> str:
    """Why garbage collection keeps this (live or recorded) object ("" when it may delete it)."""
    if has_policy(obj, PRUNE, "disabled"):
        return f"{PRUNE}: disabled"
    if has_policy(obj, RECONCILE, "disabled"):
        return f"{RECONCILE}: disabled"
    if has_policy(obj, SSA, "ignore"):
        return f"{SSA}: Ignore"
    return ""


def owner_mismatch(live: Mapping[str, Any], owner: ObjectId) -> str:
    """Flux prunes an object only while it still carries this owner's labels; an object
    another Kustomization adopted since is left alone. "" when the labels match."""
    if not owner.namespace:  # fluxform's synthetic root owner sets no labels
        return ""
    names = _OWNER_LABELS.get(owner.kind)
    if names is None:
        return ""
    labels = (live.get("metadata") or {}).get("labels") or {}
    name, namespace = labels.get(names[0]), labels.get(names[1])
    if name == owner.name and namespace == owner.namespace:
        return ""
    if name:
        return f"its labels now name {owner.kind}/{namespace or ''}/{name} as owner"
    return f"it no longer carries the {owner.kind} owner labels"


def force_enabled(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    return has_policy(desired, FORCE, "enabled") or has_policy(live, FORCE, "enabled")


@dataclass(frozen=True)
class FieldManagers:
    """Who applies: Flux's controller names when the cluster runs Flux (a later reconcile is
    then a no-op and field removals behave alike), else `fluxform`; `--field-manager` wins."""

    kustomization: str
    helm_release: str
    root: str
    reason: str  # for the plan header

    @classmethod
    def choose(cls, *, flux_installed: bool, override: str = "") -> FieldManagers:
        if override:
            return cls(override, override, override, "--field-manager")
        if flux_installed:
            return cls("kustomize-controller", "helm-controller", "fluxform", "the cluster runs Flux")
        return cls("fluxform", "fluxform", "fluxform", "the cluster has no Flux")

    def for_owner(self, owner: ObjectId) -> str:
        if not owner.namespace:
            return self.root
        return self.helm_release if owner.kind == "HelmRelease" else self.kustomization

    def describe(self) -> str:
        if self.kustomization == self.helm_release == self.root:
            return f"{self.kustomization} ({self.reason})"
        return f"{self.kustomization}, {self.helm_release} for HelmRelease objects ({self.reason})"
