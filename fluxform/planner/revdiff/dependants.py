"""Owners standing in at head that must render after all, because what they take from a
rendered owner changed.

A changed-only head render renders the owners whose files changed (and what they need);
every other owner stands in. Discovery itself renders a stand-in whose own object its
rendered parent now renders differently (DiscoverOptions.stand_in_digests). What it cannot
see is told here, from the head render and the base index:

- a stand-in looking up an object (substituteFrom, valuesFrom, its chart source) that a
  rendered owner now renders with other bytes, renders no more, or renders for the first
  time;
- the owners whose objects' scopes the fleet's CRDs decide (HelmReleases), when the CRD
  scopes of the whole head render differ from the base's;
- with the schema check on, the owners of objects whose CRD a rendered owner now renders
  differently (or no more).

    extra = changed_dependants(index, head_state, digest)   # render these too
"""

from __future__ import annotations

from fluxform.kinds import KindScopes
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState
from fluxform.planner.revdiff.changed import Digest, RenderIndex, crd_digest, lookup_digests

__all__ = ["changed_dependants"]


def changed_dependants(index: RenderIndex, head: DesiredState, digest: Digest) -> set[ObjectId]:
    """Stand-ins of `head` whose lookups or scopes differ from what `index` (the base) saw."""
    standing = [index.owners[oid] for oid in head.stand_ins if oid in index.owners]
    keys = {k for entry in standing for k in entry.lookups}
    now = lookup_digests(head, keys, digest)  # "": a stand-in holds it (unchanged)
    found = {
        entry.id
        for entry in standing
        for key in entry.lookups
        if now.get(key) != "" and now.get(key) != index.lookup_digests.get(key)
    }
    if _head_scopes(index, head) != index.scopes():
        found |= index.scope_sensitive() & set(head.stand_ins)
    found |= index.schema_dependants(_changed_crds(index, head, digest)) & set(head.stand_ins)
    return found


def _changed_crds(index: RenderIndex, head: DesiredState, digest: Digest) -> set[ObjectId]:
    """Rendered owners whose CRDs differ from the base's (or that own CRDs the base did not)."""
    changed = set()
    for owner in head.owners:
        if owner.id in head.stand_ins:
            continue
        entry = index.owners.get(owner.id)
        if crd_digest(owner, digest) != (entry.crd_digest if entry is not None else ""):
            changed.add(owner.id)
    present = {o.id for o in head.owners}
    return changed | {o.id for o in index.owners.values() if o.crd_digest and o.id not in present}  # gone


def _head_scopes(index: RenderIndex, head: DesiredState) -> dict[tuple[str, str], bool]:
    """The CRD scopes of the head render: the rendered owners' CRDs, the stand-ins' from
    the index (theirs did not change)."""
    scopes: dict[tuple[str, str], bool] = {}
    for owner in head.owners:
        if owner.id in head.stand_ins:
            entry = index.owners.get(owner.id)
            scopes.update({(g, k): n for g, k, n in entry.crd_scopes} if entry is not None else {})
        else:
            scopes.update(KindScopes.from_manifests(o.body for o in owner.objects).crd_scopes)
    return scopes
