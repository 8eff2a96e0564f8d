"""Applying beside Flux's controllers (design: "Living beside Flux's controllers").

When the cluster runs Flux, kustomize-controller would revert an unmerged change at its next
reconcile, and helm-controller marks any release it finds `pending-*` as failed, mid-upgrade.
So before the first write, every Flux Kustomization or HelmRelease this apply touches is
looked up in the cluster: one that exists and is not suspended stops the apply, unless
`--suspend` (set `spec.suspend: true` first, as `flux suspend` does, with Flux CLI's field
manager; resuming is the operator's call) or `--ignore-flux` (go on, with a warning).

    active = unsuspended(cluster, discovery, owners)
    suspend(cluster, active)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.discovery import Discovery
from fluxform.cluster.lookup import get_object
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import merge_patch
from fluxform.errors import ClusterError
from fluxform.objects import ObjectId

__all__ = ["FLUX_CLI_MANAGER", "resume_command", "runs_flux", "suspend", "unsuspended"]

#: The field manager of the Flux CLI's patches (`flux suspend`).
FLUX_CLI_MANAGER = "flux-client-side-apply"
_KINDS = {
    "Kustomization": "kustomize.toolkit.fluxcd.io",
    "HelmRelease": "helm.toolkit.fluxcd.io",
}
_SHORT = {"Kustomization": "kustomization", "HelmRelease": "helmrelease"}


def runs_flux(discovery: Discovery) -> bool:
    """The cluster serves Flux's Kustomization kind (its CRDs, and so presumably its controllers)."""
    return bool(discovery.find("kustomize.toolkit.fluxcd.io", "Kustomization"))


def _ref(discovery: Discovery, owner: ObjectId) -> ObjectRef | None:
    group = _KINDS.get(owner.kind)
    if group is None or not owner.namespace:
        return None  # fluxform's synthetic root, or not a Flux kind
    served = discovery.find(group, owner.kind)
    if not served:
        return None
    resource = served[0]
    mapping = KindMapping(group, resource.version, owner.kind, resource.plural, resource.namespaced)
    return ObjectRef(mapping, owner.namespace, owner.name)


def unsuspended(cluster: ClusterClient, discovery: Discovery, owners: Iterable[ObjectId]) -> list[ObjectRef]:
    """The Flux objects among `owners` that exist in the cluster and are not suspended."""
    found = []
    for owner in owners:
        ref = _ref(discovery, owner)
        if ref is None:
            continue
        live = get_object(cluster, ref)
        if live is not None and (live.get("spec") or {}).get("suspend") is not True:
            found.append(ref)
    return found


def suspend(cluster: ClusterClient, refs: Sequence[ObjectRef]) -> None:
    for ref in refs:
        written = merge_patch(cluster, ref, {"spec": {"suspend": True}}, field_manager=FLUX_CLI_MANAGER)
        if not written.ok:
            error = written.error()
            raise ClusterError(f"cannot suspend {ref} before applying: {error.summary}", detail=error.detail)


def resume_command(refs: Sequence[ObjectRef]) -> list[str]:
    """`flux resume ...` lines for what this apply suspended."""
    return [f"flux resume {_SHORT.get(r.mapping.kind, r.mapping.kind.lower())} {r.name} -n {r.namespace}" for r in refs]
