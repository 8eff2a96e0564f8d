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
  differently (or no more), and the owners of the CRDs a rendered owner's objects need.

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
    if index.schema_links:
        kinds = _kinds_of_changed_crds(index, head, digest)
        found |= {e.id for e in standing if any((ObjectId.parse(i).group, ObjectId.parse(i).kind) in kinds
                                                for i in e.objects)}  # fmt: skip
    rendered = {o.id for o in head.owners if o.id not in head.stand_ins and o.id in index.owners}
    found |= index.wanted(rendered) & set(head.stand_ins)  # what a rendered owner needs (its CRDs' owners)
    return found


def _kinds_of_changed_crds(index: RenderIndex, head: DesiredState, digest: Digest) -> set[tuple[str, str]]:
    """(group, kind) of every CRD that differs between base and head: those of rendered
    owners whose CRDs changed (as the base and the head define them) and of owners gone."""
    kinds: set[tuple[str, str]] = set()
    for owner in head.owners:
        if owner.id in head.stand_ins:
            continue
        entry = index.owners.get(owner.id)
        if crd_digest(owner, digest) != (entry.crd_digest if entry is not None else ""):
            kinds |= set(KindScopes.from_manifests(o.body for o in owner.objects).crd_scopes)
            kinds |= {(g, k) for g, k, _ in entry.crd_scopes} if entry is not None else set()
    present = {o.id for o in head.owners}
    kinds |= {(g, k) for o in index.owners.values() if o.id not in present for g, k, _ in o.crd_scopes}
    return kinds


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
