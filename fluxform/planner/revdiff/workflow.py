"""The `fluxform diff` workflow: render cluster paths at two git revisions and compare.

Each revision is read from git into a private scratch directory (the work tree is never
touched); both renders share one build cache, so a build whose inputs did not change is
a cache hit on the second side. In changed-only mode an index of the base render (kept
in the cache directory, keyed by the base tree) says which owners the changed files can
affect: a cluster none of whose owners is affected is neither rendered nor compared, and
inside a rendered cluster only affected owners are rendered and compared. With a kept
index, each side renders just the affected owners and what they need (parents, producers of
what they look up); every other owner stands in for itself from the index, and only the
files the rendered owners read are written out of git. What the head render reads or looks
up beyond that is checked after it, and fetched and rendered again; any doubt (unknown
inputs, an error) renders the whole cluster instead.

    result = diff_revisions(DiffRequest((Path("clusters"),), base="origin/main"))
    result = diff_revisions(DiffRequest((Path("clusters"),), base="HEAD", head=None))  # uncommitted work

The work tree is read as `git add -A` would stage it, into a private object store (the user's
index and repository are not touched): sources/git.py `snapshot_work_tree`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fluxform.decrypt.tmpfs import private_dir
from fluxform.errors import FluxformError, SourceError
from fluxform.objects import ObjectId
from fluxform.planner.dag import order_owners
from fluxform.planner.kustomization.discover import DiscoverOptions, discover, find_repo_root
from fluxform.planner.kustomization.generate import KUSTOMIZATION_FILE_NAMES
from fluxform.planner.model import Cause, DesiredState, OwnerStatus
from fluxform.planner.ownership import StandInCollision
from fluxform.planner.plan import Masking
from fluxform.planner.releases import ReleaseHook
from fluxform.planner.revdiff.carry import carry_forward
from fluxform.planner.revdiff.changed import (
    IndexRoots,
    IndexStore,
    RenderIndex,
    index_state,
    owner_inputs,
    self_ignore_of,
)
from fluxform.planner.revdiff.compare import ClusterDiff, FleetDiff, Revision, diff_states
from fluxform.planner.revdiff.dependants import changed_dependants
from fluxform.planner.revdiff.digests import ObjectDigest
from fluxform.planner.revdiff.index_key import render_settings
from fluxform.planner.revdiff.selection import (
    Rendered,
    Selection,
    failed_on_their_own,
    relative,
    rendered,
    with_producer,
    with_producers,
)
from fluxform.planner.secrets import FleetSecrets
from fluxform.planner.workflow import FleetRequest
from fluxform.progress import Progress, Stage, stage
from fluxform.sources.artifact import Artifact
from fluxform.sources.git import GitRepository
from fluxform.sources.git_checkout import LazyCheckout, RevisionListing, artifact_filter

__all__ = ["WORK_TREE", "DiffRequest", "cluster_paths", "diff_revisions"]

#: how a diff names the work tree (DiffRequest.head None) where it would name a revision
WORK_TREE = "work tree"


@dataclass(frozen=True)
class DiffRequest:
    paths: tuple[Path, ...]  # cluster paths in the work tree (a directory of clusters is expanded)
    base: str  # revision to compare against (e.g. origin/main)
    head: str | None = "HEAD"  # None: the work tree, uncommitted and untracked (not ignored) files included
    fleet: FleetRequest = field(default_factory=FleetRequest)
    changed_only: bool = True  # skip clusters/owners the changed files cannot affect
    index_dir: Path | None = None  # where base indexes are kept between runs (None: not kept)


def _is_cluster_dir(listing: RevisionListing, path: str) -> bool | None:
    """True: a cluster path; False: a directory of cluster paths; None: absent at that revision."""
    children = listing.children(path)
    if not children:
        return None
    if any(n.endswith((".yaml", ".yml")) or n in KUSTOMIZATION_FILE_NAMES for n, k in children.items() if k == "blob"):
        return True
    return children.get("flux-system") == "tree" or not any(k == "tree" for k in children.values())


def cluster_paths(listings: tuple[RevisionListing, ...], path: str) -> list[str]:
    """`path` itself when it is a cluster (holds manifests or a flux-system/ directory), else
    its subdirectories: `clusters/` stands for every cluster below it, at either revision."""
    found: set[str] = set()
    present = False
    for listing in listings:
        kind = _is_cluster_dir(listing, path)
        if kind is None:
            continue
        present = True
        if kind:
            found.add(path)
        else:
            prefix = f"{path}/" if path else ""
            found |= {prefix + name for name, k in listing.children(path).items() if k == "tree"}
    if not present:
        raise SourceError(f"{path or '.'} exists at neither revision", hint="give a cluster path inside the repository")
    return sorted(found)


class _Revision:
    """One commit: its file listing, its tree (for finding the source root) and the
    artifacts of its source roots, all written on demand into the scratch directory."""

    def __init__(
        self, repo: GitRepository, commit: str, scratch: Path, timings: dict[str, float], progress: Progress
    ) -> None:
        started = time.perf_counter()
        self.repo, self.commit, self.scratch, self.timings = repo, commit, scratch / commit, timings
        self.progress = progress
        self.listing = RevisionListing.read(repo, commit)
        self.tree = LazyCheckout(repo, self.listing, self.scratch / "tree", skeleton=False)
        self._artifacts: dict[tuple[str, str], tuple[LazyCheckout, Artifact]] = {}
        _add(timings, "checkout", started)
        _step(progress, Stage.CHECKOUT, f"{commit[:12]}: {len(self.listing.paths)} files listed", started)

    def is_dir(self, path: Path) -> bool:
        """A directory of the revision (the tree is written only in part)."""
        try:
            rel = path.resolve().relative_to(self.tree.root.resolve()).as_posix()
        except ValueError:
            return path.is_dir()
        return ("" if rel == "." else rel) in self.listing.dirs

    def want_tree(self, paths: list[str] | None = None) -> None:
        """Write `paths` of the tree (None: all of it, empty directories included)."""
        started = time.perf_counter()
        written = self.tree.want(paths) if paths is not None else self.tree.want_all()
        _add(self.timings, "checkout", started)
        if written:
            _step(self.progress, Stage.CHECKOUT, f"{self.commit[:12]}: {written} files written", started)

    def artifact(self, prefix: str, ignore: str = "") -> tuple[LazyCheckout, Artifact]:
        """The artifact of the source root `prefix` (repository-relative; "" the top), as
        source-controller filters it with the source's spec.ignore `ignore`."""
        if (prefix, ignore) not in self._artifacts:
            started = time.perf_counter()
            keep, digest = artifact_filter(self.repo, self.listing, prefix, ignore)
            root = self.scratch / f"artifact-{len(self._artifacts)}"
            checkout = LazyCheckout(self.repo, self.listing, root, prefix=prefix, keep=keep, skeleton=False)
            self._artifacts[(prefix, ignore)] = (checkout, Artifact(self.tree.root / prefix, root, digest))
            _add(self.timings, "artifact", started)
        return self._artifacts[(prefix, ignore)]


def _add(timings: dict[str, float], stage: str, started: float) -> None:
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


def _step(progress: Progress, name: Stage, item: str, started: float) -> None:
    """One more item of `name` done (git reads and writes, index look-ups and saves)."""
    progress.expect(name, 1)
    progress.advance(name, item, seconds=time.perf_counter() - started)


def _count(timings: dict[str, float], path: str) -> None:
    """Timings also count the paths a changed-only diff took (cold: no kept index for the
    base; grow, write-all, fallback: what a selected render did)."""
    timings[path] = timings.get(path, 0.0) + 1


@dataclass
class _Run:
    request: DiffRequest
    repo: GitRepository
    secrets: FleetSecrets
    revisions: dict[str, _Revision]
    changed: tuple[str, ...]
    timings: dict[str, float]
    store: IndexStore
    settings: dict[str, Any] | None = None  # what the kept indexes are keyed by (index_key.py)
    digest: ObjectDigest = field(default_factory=lambda: ObjectDigest(b""))  # keyed by the run's mask key

    @property
    def progress(self) -> Progress:
        return self.request.fleet.discover.progress

    @property
    def charts_fixed(self) -> bool:
        """Charts come from the chart cache alone (offline): see IndexRoots.charts_fixed."""
        helm = self.request.fleet.discover.helm
        return isinstance(helm, ReleaseHook) and helm.options.offline

    def _inside(self, path: Path, tree: Path) -> Path:
        try:
            return tree / path.resolve().relative_to(self.repo.top)
        except ValueError:
            return path  # outside the repository: the same directory for both revisions

    def options(self, revision: _Revision, cluster: str) -> DiscoverOptions:
        tree = revision.tree.root
        opts = self.request.fleet.discover_options()
        revision.want_tree([cluster])  # find_repo_root reads the start path
        if opts.repo_root is not None:
            root = self._inside(opts.repo_root, tree)
        else:
            root = find_repo_root(tree / cluster, revision.is_dir, top=tree)
        if not root.resolve().is_relative_to(tree.resolve()):
            root = tree
        sources = {k: self._inside(v, tree) for k, v in opts.sources.items()}
        if any(v.resolve().is_relative_to(tree.resolve()) for v in sources.values()):
            revision.want_tree()  # other sources are copied from the tree as they are
        return replace(opts, repo_root=root, sources=sources, decryptor=self.secrets)

    def render(
        self, commit: str, cluster: str, selection: Selection | None = None
    ) -> tuple[DesiredState, IndexRoots, LazyCheckout]:
        """Render `cluster` at `commit`: everything, or only what `selection` wants."""
        revision = self.revisions[commit]
        options = self.options(revision, cluster)
        assert options.repo_root is not None
        prefix = options.repo_root.resolve().relative_to(revision.tree.root.resolve()).as_posix()
        prefix = "" if prefix == "." else prefix
        used: dict[str, tuple[LazyCheckout, Artifact]] = {}

        def self_artifact(ignore: str) -> Artifact:
            """The self source's artifact, filtered with its spec.ignore once discovery read it."""
            used[ignore] = revision.artifact(prefix, ignore)
            self._fill(used[ignore][0], cluster, prefix, selection)
            return used[ignore][1]

        stand_ins, scopes = selection.index.stand_ins(selection.wanted) if selection else ((), {})
        options = replace(
            options,
            artifacts={options.repo_root: self_artifact},
            source_commit=commit,  # Revision-strategy charts carry the commit, as in Flux
            stand_ins=stand_ins,
            stand_in_scopes=scopes,
            stand_in_digests=selection.stand_in_digests() if selection else {},
            stand_in_crds=selection.index.stand_in_crds(selection.wanted) if selection else frozenset(),
            object_digest=self.digest,
        )
        started = time.perf_counter()
        state = discover(revision.tree.root / cluster, options)
        _add(self.timings, "render", started)
        for step, seconds in state.timings.items():
            self.timings[f"render.{step}"] = self.timings.get(f"render.{step}", 0.0) + seconds
        checkout, artifact = used[str(state.settings.get("self_ignore") or "")]
        return state, IndexRoots(artifact.root, prefix, frozenset(options.sources), self.charts_fixed), checkout

    def _fill(self, checkout: LazyCheckout, cluster: str, prefix: str, selection: Selection | None) -> None:
        """Write what the render of `selection` reads (None or not lazy: everything)."""
        started = time.perf_counter()
        if selection is None or not selection.lazy:
            written = checkout.want_all()
        else:
            written = checkout.want(relative([*selection.files(), cluster], prefix))
            written += checkout.want_generated(relative(selection.scanned_dirs(), prefix), KUSTOMIZATION_FILE_NAMES)
            written += checkout.want_flat(relative(selection.flat_dirs(), prefix))
        _add(self.timings, "checkout", started)
        if written:
            item = f"{checkout.listing.commit[:12]} {cluster}: {written} files written"
            _step(self.request.fleet.discover.progress, Stage.CHECKOUT, item, started)

    def render_selected(self, commit: str, cluster: str, selection: Selection) -> Rendered:
        """A render of the selected owners once everything they read and looked up was
        there; what was missing is fetched and rendered again; any doubt renders all. With
        it, the owners it rendered in the end (None: all of them), and those it rendered
        because a rendered owner produces one of their objects too (which of the two keeps
        it may have changed)."""
        contested: set[ObjectId] = set()
        for _ in range(4):
            try:
                state, roots, checkout = self.render(commit, cluster, selection)
            except FluxformError as exc:
                grown_by = with_producer(exc, selection)
                if grown_by is not None:  # it looked up an object a stand-in produces
                    if isinstance(exc, StandInCollision):
                        contested.add(exc.stand_in)
                    selection = grown_by
                    _count(self.timings, "grow")
                    continue
                if not selection.lazy:
                    break  # render all: real errors surface there
                selection = replace(selection, lazy=False)  # perhaps an input not written: write all
                _count(self.timings, "write-all")
                continue
            failed = failed_on_their_own(state)
            grown_by = with_producers(failed, state, roots, selection)
            if grown_by is not None:  # it looked up an object a stand-in produces
                selection = grown_by
                _count(self.timings, "grow")
                continue
            if any(o.cause is Cause.ERROR for o in failed) and selection.lazy:
                selection = replace(selection, lazy=False)  # perhaps an input not written: write all
                _count(self.timings, "write-all")
                continue
            started = time.perf_counter()
            grown = self._grown(state, roots, checkout, selection)
            if grown is None and selection.conditional:  # what stand-ins take from rendered owners
                extra = changed_dependants(selection.index, state, self.digest)
                grown = selection.grown(extra) if extra else None
            _add(self.timings, "check", started)
            if grown is None:
                return Rendered(state, roots, selection.wanted, frozenset(contested))
            selection = grown
            _count(self.timings, "grow")
        _count(self.timings, "fallback")
        state, roots, _ = self.render(commit, cluster)  # the whole cluster: errors surface here
        return Rendered(state, roots, None, frozenset(contested))

    def _grown(
        self, state: DesiredState, roots: IndexRoots, checkout: LazyCheckout, selection: Selection
    ) -> Selection | None:
        """`selection` grown by what the rendered owners read or looked up beyond it, or
        None when they had everything: every input file written, every directory they read
        complete, every object they look up produced by a rendered owner."""
        rendered = [o.id for o in state.owners if o.id not in state.stand_ins]
        inputs = owner_inputs(state, roots, rendered)
        producer = {(obj.id.kind, obj.id.namespace, obj.id.name): o.id for o in state.owners for obj in o.objects}
        extra = {p for i in inputs.values() for k in i.lookups if (p := producer.get(k)) in state.stand_ins}
        grown = selection.grown(extra)
        statuses = {o.id: o.status for o in state.owners}
        compared = [i for i in inputs.values() if statuses.get(i.id, OwnerStatus.BUILT).planned]
        if not (selection.lazy and all(i.files is not None for i in compared)):
            grown = replace(grown, lazy=False)
        if not selection.lazy:
            return None if grown.wanted == selection.wanted else grown
        if not grown.lazy:
            return grown
        files = relative({f for i in inputs.values() for f in i.files or ()}, roots.prefix)
        dirs = relative({d for i in inputs.values() for d in i.dirs}, roots.prefix)
        unread = [f for f in files if checkout.has_file(f) and f not in checkout.written]
        unscanned = [d for d in dirs if not checkout.generated_complete(d, KUSTOMIZATION_FILE_NAMES)]
        if not unread and not unscanned and grown.wanted == selection.wanted:
            return None
        checkout.want(unread)
        checkout.want_generated(unscanned, KUSTOMIZATION_FILE_NAMES)
        return grown

    def index_key(self, commit: str, cluster: str) -> str:
        if self.settings is None:
            self.settings = render_settings(self.request.fleet, self.secrets.keys_identity())
        return self.store.key(self.revisions[commit].listing.tree_id, cluster, self.settings)

    def cluster(self, cluster: str, base: str, head: str, masking: Masking) -> ClusterDiff:
        in_base = _is_cluster_dir(self.revisions[base].listing, cluster) is not None
        in_head = _is_cluster_dir(self.revisions[head].listing, cluster) is not None
        if not (self.request.changed_only and in_base and in_head):
            before = self._render_whole(base, cluster) if in_base else None
            after = self._render_whole(head, cluster) if in_head else None
            return self.compare(cluster, before, after, masking, None)
        key = self.index_key(base, cluster)
        started = time.perf_counter()
        index = self.store.load(key)
        if self.store.directory is not None:
            found = "found" if index is not None else "none kept: the base renders whole"
            _step(self.progress, Stage.INDEX, f"{cluster} at {base[:12]}: {found}", started)
        base_state: DesiredState | None = None
        if index is None:
            _count(self.timings, "cold")
            base_state, roots, _ = self.render(base, cluster)
            index = self._index(key, base_state, roots)
        index = replace(index, schema_links=self.request.fleet.validation.enabled)
        seeds = index.seeds(self.changed)
        if not seeds:  # both sides render as the base did: its warnings are the head's
            self._keep(self.index_key(head, cluster), index)
            return self._unaffected(cluster, index, masking)
        # what a changed file's reader looks up from another often changed with it (a release's
        # OCIRepository or values beside it): rendered at once, not after a first render shows it
        first = index.wanted(seeds | index.looking_up(seeds))
        if _mostly(first, index):
            _count(self.timings, "whole")  # the change reaches most owners: one plain render a side is cheaper
            before = base_state if base_state is not None else self._render_whole(base, cluster)
            return self.compare(cluster, before, self._render_whole(head, cluster), masking, None)
        prefetch = index.affected(self.changed)  # may render: their files are written up front
        selection = Selection.of(index, first, conditional=True, prefetch=prefetch)
        head_side = self.render_selected(head, cluster, selection)
        if self_ignore_of(head_side.state) != index.self_ignore:  # every owner reads another artifact
            _count(self.timings, "whole")
            before = base_state if base_state is not None else self._render_whole(base, cluster)
            return self.compare(cluster, before, self._render_whole(head, cluster), masking, None)
        self._keep_head(self.index_key(head, cluster), index, head_side)
        took = head_side.took(index)
        if base_state is None:  # the base renders what the head did not take from the index
            base_state = self._render_base(base, cluster, index, took)
        head_state = head_side.state
        if rendered(head_state) & base_state.stand_ins:  # a side rendered what the other took as is
            _count(self.timings, "whole")
            base_state = self._render_whole(base, cluster)
        return self.compare(cluster, base_state, head_state, masking, _compared(base_state, head_state))

    def _render_base(
        self, base: str, cluster: str, index: RenderIndex, took: frozenset[ObjectId] | None
    ) -> DesiredState:
        """The base side: the owners the head render did not take from the index (None: all)."""
        if took is None:
            return self._render_whole(base, cluster)
        return self.render_selected(base, cluster, Selection.of(index, index.wanted(took))).state

    def _render_whole(self, commit: str, cluster: str) -> DesiredState:
        """The whole cluster at `commit`; its index is kept when none is (a later
        changed-only diff against this revision starts from it)."""
        state, roots, _ = self.render(commit, cluster)
        if self.store.directory is not None:
            key = self.index_key(commit, cluster)
            if not self.store.has(key):
                self._index(key, state, roots)
        return state

    def _keep(self, key: str, index: RenderIndex) -> None:
        """Keep `index` under `key` (another revision's) unless one is kept there already."""
        if self.store.directory is not None and not self.store.has(key):
            started = time.perf_counter()
            self.store.save(key, index)
            _add(self.timings, "index", started)
            _step(self.progress, Stage.INDEX, f"kept {key[:12]}", started)

    def _keep_head(self, key: str, index: RenderIndex, head: Rendered) -> None:
        """Keep the head revision's index, carried forward from the base's: the next diff
        against this head (the next pull request, once this one merged) starts warm."""
        if self.store.directory is None or self.store.has(key):
            return
        started = time.perf_counter()
        whole = head.wanted is None
        if whole:
            carried: RenderIndex | None = index_state(head.state, head.roots, self.digest)
        else:
            carried = carry_forward(index, head.state, head.roots, self.digest)
        if carried is not None:
            self.store.save(key, carried)
            _step(self.progress, Stage.INDEX, f"kept {key[:12]} (the head's)", started)
        _add(self.timings, "index", started)

    def _unaffected(self, cluster: str, index: RenderIndex, masking: Masking) -> ClusterDiff:
        """A cluster nothing changed for, told from its index as a full render would tell it:
        no change, the owners Flux leaves alone noted, the base's warnings."""
        owners, _ = order_owners(list(index.stand_ins(frozenset())[0]))
        state = DesiredState(tuple(owners), "", stand_ins=frozenset(o.id for o in owners))
        result = self.compare(cluster, state, state, masking, frozenset())
        return replace(result, rendered=False, diagnostics=index.diagnostics)

    def compare(
        self,
        cluster: str,
        base: DesiredState | None,
        head: DesiredState | None,
        masking: Masking,
        only: frozenset[ObjectId] | None,
    ) -> ClusterDiff:
        started = time.perf_counter()
        result = diff_states(cluster, base, head, masking, only=only)
        _add(self.timings, "compare", started)
        return result

    def _index(self, key: str, state: DesiredState, roots: IndexRoots) -> RenderIndex:
        started = time.perf_counter()
        index = index_state(state, roots, self.digest)
        self.store.save(key, index)
        _add(self.timings, "index", started)
        if self.store.directory is not None:
            _step(self.progress, Stage.INDEX, f"kept {key[:12]}", started)
        return index


def _head(repo: GitRepository, head: str | None, scratch: Path) -> tuple[GitRepository, str, str]:
    """(repository handle, commit, name) of the head side: a revision, or the work tree
    committed into a private object store; a work tree with nothing to commit is HEAD."""
    if head is not None:
        return repo, repo.resolve(head), head
    current = repo.resolve("HEAD")
    snapshot, commit = repo.snapshot_work_tree(scratch / "work-tree")
    if snapshot.tree_id(commit) == repo.tree_id(current):
        return repo, current, "HEAD"
    return snapshot, commit, WORK_TREE


#: a change wanting this share of a cluster's owners renders it whole (selected renders, their
#: checks and growth cost more than they save then); small clusters always render selected
_WHOLE_SHARE, _WHOLE_MIN_OWNERS = 0.75, 16


def _mostly(wanted: frozenset[ObjectId], index: RenderIndex) -> bool:
    return len(index.owners) >= _WHOLE_MIN_OWNERS and len(wanted) >= _WHOLE_SHARE * len(index.owners)


def _compared(base: DesiredState, head: DesiredState) -> frozenset[ObjectId]:
    """The owners rendered wherever they are (at both revisions, or at the one they are
    at): the others stood in at one side at least, so they render as at base."""
    at_base, at_head = {o.id for o in base.owners}, {o.id for o in head.owners}
    return frozenset(
        oid
        for oid in at_base | at_head
        if (oid not in at_base or oid not in base.stand_ins) and (oid not in at_head or oid not in head.stand_ins)
    )


def diff_revisions(request: DiffRequest) -> FleetDiff:
    """Render every cluster path at both revisions and compare them (see module doc)."""
    if not request.paths:
        raise SourceError("no cluster path given")
    repo = GitRepository.containing(request.paths[0])
    timings: dict[str, float] = {}
    progress = request.fleet.discover.progress
    with (
        FleetSecrets(request.fleet.secrets) as secrets,
        private_dir(require_tmpfs=False) as scratch,
        stage(progress, Stage.CHECKOUT, "Reading revisions from git"),
        stage(progress, Stage.INDEX, "Changed-only indexes"),
    ):
        base = repo.resolve(request.base)
        repo, head, head_name = _head(repo, request.head, scratch)
        changed = repo.changed_files(base, head)
        revisions = {commit: _Revision(repo, commit, scratch, timings, progress) for commit in (base, head)}
        listings = (revisions[base].listing, revisions[head].listing)
        rels = []
        for path in request.paths:
            try:
                rel = path.resolve().relative_to(repo.top).as_posix()
            except ValueError:
                raise SourceError(f"{path} is outside the git repository at {repo.top}") from None
            rels += cluster_paths(listings, "" if rel == "." else rel)
        run = _Run(request, repo, secrets, revisions, changed, timings, IndexStore(request.index_dir))
        run.digest = ObjectDigest(secrets.mask_key(None))
        masking = secrets.masking(None)
        clusters = tuple(run.cluster(cluster, base, head, masking) for cluster in sorted(set(rels)))
    return FleetDiff(
        base=Revision(request.base, base),
        head=Revision(head_name, head),
        mode="changed-only" if request.changed_only else "full",
        changed_files=changed,
        clusters=clusters,
        timings=timings,
    )
