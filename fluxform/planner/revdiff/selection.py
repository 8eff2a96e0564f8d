"""Which owners a changed-only render renders, and what it writes out of git for them.

A selection names the owners to render (their parents and the producers of what they look
up included: RenderIndex.wanted); every other owner of the index stands in for itself.
Lazy, the checkout holds only the files the index says they read; when a render shows it
needs more (an object a stand-in produces, an input not written), the selection grows.

    selection = Selection.of(index, index.wanted(seeds))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from fluxform.errors import FluxformError, ObjectNotFound
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState, Owner, OwnerStatus
from fluxform.planner.ownership import StandInCollision
from fluxform.planner.revdiff.changed import IndexRoots, RenderIndex, owner_inputs

__all__ = ["Rendered", "Selection", "failed_on_their_own", "relative", "rendered", "with_producer", "with_producers"]


@dataclass(frozen=True)
class Selection:
    """Render only `wanted` (the index's other owners stand in for themselves), from a
    checkout holding only what they read (lazy) or the whole source (not lazy).

    `conditional` (the head side of a diff): the stand-ins stand in only while what they
    take from rendered owners is unchanged (DiscoverOptions.stand_in_digests,
    dependants.py); `prefetch` names those that may then render, so their files are
    written with the wanted owners' instead of after a render that missed them."""

    index: RenderIndex
    wanted: frozenset[ObjectId]
    lazy: bool
    conditional: bool = False
    prefetch: frozenset[ObjectId] = frozenset()

    @classmethod
    def of(
        cls,
        index: RenderIndex,
        wanted: frozenset[ObjectId],
        *,
        conditional: bool = False,
        prefetch: frozenset[ObjectId] = frozenset(),
    ) -> Selection:
        """Lazy when the index knows what every wanted owner reads."""
        lazy = all(index.owners[o].files is not None for o in wanted if o in index.owners)
        return cls(index, wanted, lazy, conditional, prefetch)

    def grown(self, owners: Iterable[ObjectId]) -> Selection:
        """This selection with `owners` and what they need wanted too."""
        return Selection.of(
            self.index, self.wanted | self.index.wanted(owners), conditional=self.conditional, prefetch=self.prefetch
        )

    def _written(self) -> list[ObjectId]:
        return [o for o in self.wanted | self.prefetch if o in self.index.owners]

    def files(self) -> set[str]:
        """Repository-relative files the wanted (and prefetched) owners read."""
        return {f for oid in self._written() for f in self.index.owners[oid].files or ()}

    def scanned_dirs(self) -> set[str]:
        """Directories the wanted owners read whole: generator-scanned ones, charts."""
        return {d for oid in self._written() for d in self.index.owners[oid].dirs}

    def flat_dirs(self) -> set[str]:
        """Directories whose own files (not their subdirectories') the wanted owners may read:
        a file added beside a kustomization file at head is written before the render."""
        return {d for oid in self._written() for d in self.index.owners[oid].flat_dirs}

    def stand_in_digests(self) -> dict[ObjectId, str]:
        """For a conditional selection: every stand-in and the digest of its own object."""
        if not self.conditional:
            return {}
        return {oid: o.object_digest for oid, o in self.index.owners.items() if oid not in self.wanted}


@dataclass(frozen=True)
class Rendered:
    """One side's render: the state, where it read from, the owners it rendered in the end
    (None: all), and those it rendered because a rendered owner produces one of their
    objects too (which of the two keeps it may have changed)."""

    state: DesiredState
    roots: IndexRoots
    wanted: frozenset[ObjectId] | None
    contested: frozenset[ObjectId]

    def took(self, index: RenderIndex) -> frozenset[ObjectId] | None:
        """The owners of `index` this render did not take from it: rendered, wanted, or gone
        (None: it rendered everything). The other side must render at least these."""
        if self.wanted is None:
            return None
        return self.wanted | frozenset(o for o in index.owners if o not in self.state.stand_ins)


def failed_on_their_own(state: DesiredState) -> list[Owner]:
    """Rendered owners not planned for a reason of their own (not only depending on another)."""
    return [
        o
        for o in state.owners
        if o.id not in state.stand_ins
        and o.status is OwnerStatus.NOT_PLANNED
        and not o.reason.startswith("depends on ")
    ]


def with_producers(
    failed: list[Owner], state: DesiredState, roots: IndexRoots, selection: Selection
) -> Selection | None:
    """`selection` grown by the owners standing in that produce what a failed owner looks
    up (a substituteFrom or valuesFrom object it found missing), else None."""
    looked_up = {k for i in owner_inputs(state, roots, [o.id for o in failed]).values() for k in i.lookups}
    producers = {p for k in looked_up if (p := selection.index.producer_of(k)) is not None}
    wanted = selection.index.wanted({p for p in producers if p in state.stand_ins})
    if wanted <= selection.wanted:
        return None
    return replace(selection, wanted=selection.wanted | wanted)


def with_producer(error: FluxformError, selection: Selection) -> Selection | None:
    """`selection` grown by the owner standing in that `error` needs rendered: the producer
    of an object found missing, or an owner listing an object a rendered one produces
    too; else None."""
    if isinstance(error, StandInCollision):
        producer: ObjectId | None = error.stand_in
    elif isinstance(error, ObjectNotFound):
        producer = selection.index.producer_of(error.missing)
    else:
        return None
    if producer is None or producer in selection.wanted:
        return None
    return replace(selection, wanted=selection.wanted | selection.index.wanted({producer}))


def relative(paths: Iterable[str], prefix: str) -> list[str]:
    """Repository-relative paths made relative to the source root `prefix` (others dropped)."""
    if not prefix:
        return sorted(paths)
    found = []
    for path in paths:
        if path == prefix:
            found.append("")
        elif path.startswith(prefix + "/"):
            found.append(path[len(prefix) + 1 :])
    return sorted(found)


def rendered(state: DesiredState) -> frozenset[ObjectId]:
    return frozenset(o.id for o in state.owners if o.id not in state.stand_ins)
