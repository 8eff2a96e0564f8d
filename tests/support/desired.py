"""Desired states in tests: reading rendered ones, and building small ones in code for the
planner, diff and live-plan tests.

web = owner_of(discover(cluster_dir, options), ks("apps"))
base = DesiredState((owner(ks("apps"), cm("a", "1"), cm("b", "2")),), "sha256:x")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredObject, DesiredState, Owner, OwnerStatus

__all__ = ["cm", "no_mask", "owner", "owner_of"]


def cm(name: str, value: str = "v", **annotations: str) -> dict[str, Any]:
    """ConfigMap apps/`name` holding k=`value`."""
    meta: dict[str, Any] = {"name": name, "namespace": "apps"}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


def owner(
    oid: ObjectId,
    *bodies: Mapping[str, Any],
    status: OwnerStatus = OwnerStatus.BUILT,
    prune: bool = True,
    depends_on: Iterable[ObjectId] = (),
    parent: ObjectId | None = None,
) -> Owner:
    """Flux object `oid`, reading ./x of the flux-system GitRepository, having rendered `bodies`."""
    objects = tuple(DesiredObject(ObjectId.from_manifest(b), str(b["apiVersion"]), b, oid) for b in bodies)
    source = "GitRepository/flux-system/flux-system"
    return Owner(oid, oid.kind, status, source, "./x", parent, tuple(depends_on), prune, None, objects)


def no_mask(manifest: Mapping[str, Any], paths: Sequence[tuple[str | int, ...]] = ()) -> dict[str, Any]:
    """A plan's masking that masks nothing: for plans whose objects hold no secret, or tests
    that need the plaintext to reach the masking-by-construction checks."""
    return dict(manifest)


def owner_of(state: DesiredState, owner_id: ObjectId) -> Owner:
    """The owner `owner_id` of `state`, asserted present."""
    found = state.owner(owner_id)
    assert found is not None, f"{owner_id} is not an owner of this desired state"
    return found
