"""The `fluxform diff` workflow: render cluster paths at two git revisions and compare.

Each revision is read from git into a private scratch directory (the work tree is never
touched); both renders share one build cache, so a build whose inputs did not change is
a cache hit on the second side. In changed-only mode an index of the base render (kept
in the cache directory, keyed by the base tree) says which owners the changed files can
affect: a cluster none of whose owners is affected is neither rendered nor compared, and
inside a rendered cluster only affected owners are compared.

    result = diff_revisions(DiffRequest((Path("clusters"),), base="origin/main"))
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fluxform import __version__
from fluxform.decrypt.tmpfs import private_dir
from fluxform.errors import SourceError
from fluxform.objects import ObjectId
from fluxform.planner.changed import IndexRoots, IndexStore, RenderIndex, index_state
from fluxform.planner.diff import ClusterDiff, ClusterStatus, FleetDiff, Revision, diff_states
from fluxform.planner.discover import DiscoverOptions, discover, find_repo_root
from fluxform.planner.generate import KUSTOMIZATION_FILE_NAMES
from fluxform.planner.kustomize import kustomize_tool
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Masking
from fluxform.planner.secrets import FleetSecrets
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.artifact import Artifact, materialize_artifact
from fluxform.sources.git import GitRepository

__all__ = ["DiffRequest", "cluster_paths", "diff_revisions"]


@dataclass(frozen=True)
class DiffRequest:
    paths: tuple[Path, ...]  # cluster paths in the work tree (a directory of clusters is expanded)
    base: str  # revision to compare against (e.g. origin/main)
    head: str = "HEAD"
    fleet: FleetRequest = field(default_factory=FleetRequest)
    changed_only: bool = True  # skip clusters/owners the changed files cannot affect
    index_dir: Path | None = None  # where base indexes are kept between runs (None: not kept)


def _is_cluster_dir(repo: GitRepository, commit: str, path: str) -> bool | None:
    """True: a cluster path; False: a directory of cluster paths; None: absent at `commit`."""
    entries = repo.entries(commit, path)
    if not entries:
        return None
    names = {e.path.rsplit("/", 1)[-1]: e.kind for e in entries}
    if any(n.endswith((".yaml", ".yml")) or n in KUSTOMIZATION_FILE_NAMES for n, k in names.items() if k == "blob"):
        return True
    return names.get("flux-system") == "tree" or not any(k == "tree" for k in names.values())


def cluster_paths(repo: GitRepository, commits: tuple[str, ...], path: str) -> list[str]:
    """`path` itself when it is a cluster (holds manifests or a flux-system/ directory), else
    its subdirectories: `clusters/` stands for every cluster below it, at either revision."""
    found: set[str] = set()
    present = False
    for commit in commits:
        kind = _is_cluster_dir(repo, commit, path)
        if kind is None:
            continue
        present = True
        if kind:
            found.add(path)
        else:
            found |= {e.path for e in repo.entries(commit, path) if e.kind == "tree"}
    if not present:
        raise SourceError(f"{path or '.'} exists at neither revision", hint="give a cluster path inside the repository")
    return sorted(found)


class _Revisions:
    """Trees extracted on first use into the private scratch directory."""

    def __init__(self, repo: GitRepository, scratch: Path, timings: dict[str, float], stack: ExitStack) -> None:
        self.repo, self.scratch, self.timings, self.stack = repo, scratch, timings, stack
        self._trees: dict[str, Path] = {}
        self._artifacts: dict[Path, Artifact] = {}

    def artifact(self, root: Path) -> Artifact:
        """The filtered source artifact of an extracted tree, made once for all its clusters."""
        root = root.resolve()
        if root not in self._artifacts:
            started = time.perf_counter()
            self._artifacts[root] = self.stack.enter_context(materialize_artifact(root))
            _add(self.timings, "artifact", started)
        return self._artifacts[root]

    def tree(self, commit: str) -> Path:
        if commit not in self._trees:
            started = time.perf_counter()
            target = self.scratch / commit
            self.repo.extract(commit, target)
            self._trees[commit] = target
            _add(self.timings, "checkout", started)
        return self._trees[commit]


def _add(timings: dict[str, float], stage: str, started: float) -> None:
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


@dataclass
class _Run:
    request: DiffRequest
    repo: GitRepository
    secrets: FleetSecrets
    revisions: _Revisions
    changed: tuple[str, ...]
    timings: dict[str, float]
    store: IndexStore

    def _inside(self, path: Path, tree: Path) -> Path:
        try:
            return tree / path.resolve().relative_to(self.repo.top)
        except ValueError:
            return path  # outside the repository: the same directory for both revisions

    def options(self, tree: Path, start: Path) -> DiscoverOptions:
        opts = self.request.fleet.discover
        root = self._inside(opts.repo_root, tree) if opts.repo_root is not None else find_repo_root(start)
        if not root.resolve().is_relative_to(tree.resolve()):
            root = tree
        sources = {k: self._inside(v, tree) for k, v in opts.sources.items()}
        return replace(opts, repo_root=root, sources=sources, decryptor=self.secrets)

    def render(self, commit: str, cluster: str) -> tuple[DesiredState, IndexRoots]:
        tree = self.revisions.tree(commit)
        start = tree / cluster
        options = self.options(tree, start)
        assert options.repo_root is not None
        options = replace(
            options,
            artifacts={options.repo_root: self.revisions.artifact(options.repo_root)},
            source_commit=commit,  # Revision-strategy charts carry the commit, as in Flux
        )
        started = time.perf_counter()
        state = discover(start, options)
        _add(self.timings, "render", started)
        for stage, seconds in state.timings.items():
            self.timings[f"render.{stage}"] = self.timings.get(f"render.{stage}", 0.0) + seconds
        assert options.repo_root is not None
        prefix = options.repo_root.resolve().relative_to(tree.resolve()).as_posix()
        roots = IndexRoots(options.repo_root, "" if prefix == "." else prefix, frozenset(options.sources))
        return state, roots

    def index_key(self, commit: str, cluster: str) -> str:
        opts = self.request.fleet.discover
        settings: Mapping[str, Any] = {
            "fluxform": __version__,
            "kustomize": kustomize_tool().version,
            "strict": opts.strict_substitute,
            "repo_root": str(opts.repo_root or ""),
            "sources": sorted((k, str(v)) for k, v in opts.sources.items()),
            "helm": opts.helm is not None,
        }
        return self.store.key(self.repo.tree_id(commit), cluster, settings)

    def cluster(self, cluster: str, base: str, head: str, masking: Masking) -> ClusterDiff:
        in_base = _is_cluster_dir(self.repo, base, cluster) is not None
        in_head = _is_cluster_dir(self.repo, head, cluster) is not None
        if not (self.request.changed_only and in_base and in_head):
            base_state = self.render(base, cluster)[0] if in_base else None
            head_state = self.render(head, cluster)[0] if in_head else None
            return self.compare(cluster, base_state, head_state, masking, None)
        key = self.index_key(base, cluster)
        index = self.store.load(key)
        if index is not None and not index.affected(self.changed):
            return ClusterDiff(cluster, ClusterStatus.UNCHANGED, rendered=False)
        base_state, roots = self.render(base, cluster)
        if index is None:
            index = self._index(key, base_state, roots)
        affected = index.affected(self.changed)
        if not affected:
            return ClusterDiff(cluster, ClusterStatus.UNCHANGED, rendered=False)
        head_state = self.render(head, cluster)[0]
        new = {o.id for o in head_state.owners if o.id not in index.owners}  # no base inputs to judge them by
        return self.compare(cluster, base_state, head_state, masking, affected | new)

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
        index = index_state(state, roots)
        self.store.save(key, index)
        _add(self.timings, "index", started)
        return index


def diff_revisions(request: DiffRequest) -> FleetDiff:
    """Render every cluster path at both revisions and compare them (see module doc)."""
    if not request.paths:
        raise SourceError("no cluster path given")
    repo = GitRepository.containing(request.paths[0])
    base, head = repo.resolve(request.base), repo.resolve(request.head)
    rels = []
    for path in request.paths:
        try:
            rel = path.resolve().relative_to(repo.top).as_posix()
        except ValueError:
            raise SourceError(f"{path} is outside the git repository at {repo.top}") from None
        rels += cluster_paths(repo, (base, head), "" if rel == "." else rel)
    timings: dict[str, float] = {}
    changed = repo.changed_files(base, head)
    with (
        FleetSecrets(request.fleet.secrets) as secrets,
        private_dir(require_tmpfs=False) as scratch,
        ExitStack() as artifacts,
    ):
        revisions = _Revisions(repo, scratch, timings, artifacts)
        run = _Run(request, repo, secrets, revisions, changed, timings, IndexStore(request.index_dir))
        masking = secrets.masking(None)
        clusters = tuple(run.cluster(cluster, base, head, masking) for cluster in sorted(set(rels)))
    return FleetDiff(
        base=Revision(request.base, base),
        head=Revision(request.head, head),
        mode="changed-only" if request.changed_only else "full",
        changed_files=changed,
        clusters=clusters,
        timings=timings,
    )
