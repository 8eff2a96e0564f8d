"""One owner per object, as far as Flux allows more.

Flux does not stop two Kustomizations (or a Kustomization and a HelmRelease) from applying
the same object. A common layout does it on purpose: a cluster directory without a
kustomization.yaml, whose generated build takes in every `app/` directory holding one, while
each app's own Kustomization builds that directory again. The copies are the same object
apart from Flux's owner labels, and the cluster ends up with it either way: fluxform plans
it under the first owner in dependency order and warns on the others. Copies that differ
overwrite each other on every reconcile (the two owners fight): Flux applies both and the
one applied later wins, so the plan takes the copy of the last owner in dependency order,
with a warning naming both owners and the files the object comes from. The synthetic root
(no self-managing Kustomization in the repository, e.g. flux-operator's FluxInstance applies
the start path) yields to any real owner, whatever its copy says.

    owners = one_owner_per_object(ordered_owners, stand_ins=frozenset())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from fluxform.errors import Diagnostic, RenderError
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredObject, Owner

__all__ = ["StandInCollision", "one_owner_per_object"]

_OWNER_LABEL_PREFIXES = ("kustomize.toolkit.fluxcd.io/", "helm.toolkit.fluxcd.io/")

#: (object, owner) -> the file the owner's copy of the object comes from, for warnings
FileOf = Callable[[ObjectId, "Owner"], str]


class StandInCollision(RenderError):
    """A rendered owner produces an object an owner standing in (ids only) lists: the two
    copies can be compared only once that owner is rendered too."""

    def __init__(self, obj: ObjectId, stand_in: ObjectId, owner: ObjectId) -> None:
        super().__init__(f"{obj} is produced by {owner} and by {stand_in}, which was not rendered")
        self.stand_in = stand_in


def one_owner_per_object(
    ordered: Sequence[Owner], stand_ins: frozenset[ObjectId], file_of: FileOf | None = None
) -> list[Owner]:
    """`ordered` (dependency order) with each object kept by one owner: equal copies by the
    first (unless that is fluxform's synthetic root, whose spec is a guess: whatever applies
    the start path is not in the repository, and a real Kustomization renders the object
    too), differing copies by the last (it is applied last, so its copy is what stays)."""
    owners = {o.id: o for o in ordered}
    copies: dict[ObjectId, list[DesiredObject]] = {}
    for owner in ordered:
        for obj in owner.objects:
            copies.setdefault(obj.id, []).append(obj)
    keeper: dict[ObjectId, ObjectId] = {}
    notes: dict[ObjectId, list[Diagnostic]] = {}
    for oid, objs in copies.items():
        if len({o.owner for o in objs}) < 2:
            continue
        real = [o for o in objs if not _synthetic(o.owner)]
        differ = [o for o in real if _differs(o, real[0], stand_ins)] if real else []
        chosen = real[-1] if differ else real[0] if _synthetic(objs[0].owner) and real else objs[0]
        keeper[oid] = chosen.owner
        for other in objs:
            if other.owner == chosen.owner:
                continue
            if _synthetic(other.owner) or _synthetic(chosen.owner) or not _differs(other, chosen, stand_ins):
                text = (
                    f"{oid} is also rendered by {chosen.owner}; Flux applies it from both (the last reconcile "
                    f"wins): planned under {chosen.owner}"
                )
            else:
                where = _files(oid, (owners[other.owner], owners[chosen.owner]), file_of)
                text = (
                    f"{oid} is also rendered by {chosen.owner} with different content ({where}): Flux applies "
                    f"both and the later one wins, so the two fight on every reconcile; planned as "
                    f"{chosen.owner}'s copy"
                )
            notes.setdefault(other.owner, []).append(Diagnostic(text, other.owner))
    out: list[Owner] = []
    for owner in ordered:
        if owner.id in notes:
            kept = tuple(o for o in owner.objects if keeper.get(o.id, owner.id) == owner.id)
            owner = replace(owner, objects=kept, diagnostics=(*owner.diagnostics, *notes[owner.id]))
        out.append(owner)
    return out


def _files(oid: ObjectId, pair: tuple[Owner, Owner], file_of: FileOf | None) -> str:
    def one(owner: Owner) -> str:
        if file_of is not None:
            return file_of(oid, owner)
        return str(owner.origin) if owner.origin is not None else str(owner.id)

    return f"{one(pair[0])} and {one(pair[1])}"


def _synthetic(oid: ObjectId) -> bool:
    """fluxform's own root owner: the one Kustomization without a namespace."""
    return oid.kind == "Kustomization" and not oid.namespace


def _differs(obj: DesiredObject, holder: DesiredObject, stand_ins: frozenset[ObjectId]) -> bool:
    """Whether two copies differ beyond Flux's owner labels. A copy standing in (ids only)
    cannot be compared: the caller must render its owner (StandInCollision)."""
    if obj.owner == holder.owner:
        return False
    for standing, other in ((holder.owner, obj.owner), (obj.owner, holder.owner)):
        if standing in stand_ins:
            raise StandInCollision(obj.id, standing, other)
    return _without_owner_labels(obj.body) != _without_owner_labels(holder.body)


def _without_owner_labels(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("labels"), Mapping):
        return body
    labels = {k: v for k, v in meta["labels"].items() if not str(k).startswith(_OWNER_LABEL_PREFIXES)}
    return {**body, "metadata": {**meta, "labels": labels}}
