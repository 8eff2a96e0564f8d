"""One owner per object, as far as Flux allows more.

Flux does not stop two Kustomizations (or a Kustomization and a HelmRelease) from applying
the same object. A common layout does it on purpose: a cluster directory without a
kustomization.yaml, whose generated build takes in every `app/` directory holding one, while
each app's own Kustomization builds that directory again. The copies are the same object
apart from Flux's owner labels, and the cluster ends up with it either way: fluxform plans
it under the first owner in dependency order and warns on the others. Copies that differ
would overwrite each other on every reconcile: that is an error naming both owners.

    owners = one_owner_per_object(ordered_owners, stand_ins=frozenset())
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fluxform.errors import Diagnostic, RenderError
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredObject, Owner

__all__ = ["StandInCollision", "one_owner_per_object"]

_OWNER_LABEL_PREFIXES = ("kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/")


class StandInCollision(RenderError):
    """A rendered owner produces an object an owner standing in (ids only) lists: the two
    copies can be compared only once that owner is rendered too."""

    def __init__(self, obj: ObjectId, stand_in: ObjectId, owner: ObjectId) -> None:
        super().__init__(f"{obj} is produced by {owner} and by {stand_in}, which was not rendered")
        self.stand_in = stand_in


def one_owner_per_object(ordered: Sequence[Owner], stand_ins: frozenset[ObjectId]) -> list[Owner]:
    """`ordered` (dependency order) with each object kept by its first owner only."""
    first: dict[ObjectId, DesiredObject] = {}
    out: list[Owner] = []
    for owner in ordered:
        kept: list[DesiredObject] = []
        notes: list[Diagnostic] = []
        for obj in owner.objects:
            holder = first.get(obj.id)
            if holder is None or holder.owner == owner.id:
                first.setdefault(obj.id, obj)
                kept.append(obj)
                continue
            _check_same(obj, holder, stand_ins)
            notes.append(
                Diagnostic(
                    f"{obj.id} is also rendered by {holder.owner}; Flux applies it from both, the same but "
                    f"for owner labels (the last reconcile wins them): planned under {holder.owner}",
                    owner.id,
                )
            )
        if notes:
            owner = replace(owner, objects=tuple(kept), diagnostics=(*owner.diagnostics, *notes))
        out.append(owner)
    return out


def _check_same(obj: DesiredObject, holder: DesiredObject, stand_ins: frozenset[ObjectId]) -> None:
    for standing, other in ((holder.owner, obj.owner), (obj.owner, holder.owner)):
        if standing in stand_ins:
            raise StandInCollision(obj.id, standing, other)
    if _without_owner_labels(obj.body) != _without_owner_labels(holder.body):
        raise RenderError(
            f"{obj.id} is produced by both {holder.owner} and {obj.owner}, with different content",
            hint="an object must belong to one Kustomization or HelmRelease; these would overwrite each other",
        )


def _without_owner_labels(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("labels"), Mapping):
        return body
    labels = {k: v for k, v in meta["labels"].items() if not str(k).startswith(_OWNER_LABEL_PREFIXES)}
    return {**body, "metadata": {**meta, "labels": labels}}
