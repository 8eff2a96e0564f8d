"""ObjectIds of the Flux objects tests name most: the Kustomizations and HelmReleases that own
what a fleet renders.

APPS = ks("apps")               # Kustomization/flux-system/apps
WEB = hr("web", "apps")         # HelmRelease/apps/web
"""

from __future__ import annotations

from fluxform.objects import ObjectId

__all__ = ["HELM_GROUP", "KUSTOMIZE_GROUP", "hr", "ks"]

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"


def ks(name: str, namespace: str = "flux-system") -> ObjectId:
    """A Flux Kustomization's id (flux-system is where `flux bootstrap` puts them)."""
    return ObjectId(namespace, name, KUSTOMIZE_GROUP, "Kustomization")


def hr(name: str, namespace: str = "flux-system") -> ObjectId:
    """A Flux HelmRelease's id."""
    return ObjectId(namespace, name, HELM_GROUP, "HelmRelease")
