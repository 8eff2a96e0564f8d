"""The head revision's changed-only index, carried forward from the base's.

A changed-only diff renders only the owners a change can affect; every other owner stands
in for itself from the base index, because it renders at head exactly as it did at base.
So the head's index is the base's, with the entries of the owners rendered at head
replaced by what that render read and looked up. Kept under the head's tree, it lets the
next diff against this revision (the next pull request, once this one merged; the next
commit of a history walk) start from an index instead of a whole render.

    index = carry_forward(base_index, head_state, head_roots, digest)   # None: render it whole next time
"""

from __future__ import annotations

from dataclasses import replace

from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState
from fluxform.planner.revdiff.changed import (
    Digest,
    IndexRoots,
    ObjectKey,
    OwnerInputs,
    RenderIndex,
    lookup_digests,
    owner_inputs,
    self_ignore_of,
)

__all__ = ["carry_forward"]


def carry_forward(base: RenderIndex, head: DesiredState, roots: IndexRoots, digest: Digest) -> RenderIndex | None:
    """The index of `head` (a render of some owners, the others standing in from `base`),
    or None when a stand-in is not what `base` recorded (isolation changed its status at
    head, say): then nothing is carried, and the next diff renders that revision whole.
    Digests of what stand-ins hold (ids only here) are the base's: they did not change."""
    rendered = [o.id for o in head.owners if o.id not in head.stand_ins]
    fresh = owner_inputs(head, roots, rendered, digest=digest)
    held = {obj.id for o in head.owners if o.id in head.stand_ins for obj in o.objects}
    owners: dict[ObjectId, OwnerInputs] = {}
    for owner in head.owners:
        kept = base.owners.get(owner.id)
        if owner.id in fresh:
            entry = fresh[owner.id]
            if owner.id in held and kept is not None:  # its own object is a stand-in's: unchanged
                entry = replace(entry, object_digest=kept.object_digest)
            owners[owner.id] = entry
            continue
        if kept is None or (kept.status, kept.reason, kept.cause) != (owner.status, owner.reason, owner.cause):
            return None
        owners[owner.id] = kept
    producer_of: dict[ObjectKey, ObjectId] = {
        (obj.id.kind, obj.id.namespace, obj.id.name): obj.owner for o in head.owners for obj in o.objects
    }
    wanted = {k for o in owners.values() for k in o.lookups}
    producers = {k: producer_of[k] for k in sorted(wanted) if k in producer_of}
    digests = {k: d or base.lookup_digests.get(k, "") for k, d in lookup_digests(head, wanted, digest).items()}
    known = {k: d for k, d in digests.items() if d}
    return RenderIndex(owners, producers, head.diagnostics, known, self_ignore_of(head))
