"""A git revision written to disk on demand, whole or filtered as a Flux artifact.

`fluxform diff` in changed-only mode renders a few owners of a large fleet; writing every
file of both revisions would cost more than rendering them. A checkout here starts as the
revision's directory skeleton and writes files only when asked for (a path, or a directory
meaning everything below it), in one `git cat-file --batch` per request. Asked for
everything, it is the full tree. Blobs are read raw, as `GitRepository.extract` does.

With a `ListingFilter` the checkout is a Flux artifact of the source root `prefix`: only the
files source-controller's ignore rules keep, at paths relative to that root.

    listing = RevisionListing.read(repo, commit)
    tree = LazyCheckout(repo, listing, scratch / "tree")
    tree.want(["clusters/prod"])  # every file below clusters/prod is on disk now
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import SourceError
from fluxform.sources.artifact import IGNORE_FILE, IgnoreMatcher, ListingFilter
from fluxform.sources.git import BLOB_MODES, GitRepository, TreeEntry, safe_parts

__all__ = ["LazyCheckout", "RevisionListing", "artifact_filter"]


@dataclass(frozen=True)
class RevisionListing:
    """The regular files of one commit (one `git ls-tree -r`), sorted by path."""

    commit: str
    tree_id: str
    files: dict[str, TreeEntry]
    paths: tuple[str, ...]  # sorted
    dirs: frozenset[str]  # every directory holding a file, "" included

    @classmethod
    def read(cls, repo: GitRepository, commit: str) -> RevisionListing:
        entries = [e for e in repo.entries(commit) if e.kind == "blob" and e.mode in BLOB_MODES]
        files = {e.path: e for e in entries}
        dirs = {""}
        for path in files:
            parts = path.split("/")[:-1]
            dirs.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
        return cls(commit, repo.tree_id(commit), files, tuple(sorted(files)), frozenset(dirs))

    def children(self, directory: str) -> dict[str, str]:
        """Names directly inside `directory`: "blob" for a file, "tree" for a directory."""
        found: dict[str, str] = {}
        cut = len(directory.rstrip("/")) + 1 if directory else 0
        for path in self.below(directory):
            name, _, rest = path[cut:].partition("/")
            found[name] = "tree" if rest else "blob"
        return found

    def below(self, directory: str) -> list[str]:
        """Every file under `directory` ("" is the whole tree)."""
        if not directory:
            return list(self.paths)
        prefix = directory.rstrip("/") + "/"
        start = bisect.bisect_left(self.paths, prefix)
        end = bisect.bisect_left(self.paths, prefix[:-1] + chr(ord("/") + 1))
        return list(self.paths[start:end])


def artifact_filter(
    repo: GitRepository, listing: RevisionListing, prefix: str, ignore: str = ""
) -> tuple[ListingFilter, str]:
    """source-controller's filter for the source root `prefix` of a revision, from the
    `.sourceignore` files in git and the source's `spec.ignore` (`ignore`), and a digest
    naming the artifact's content (the blobs below the root and those rules) without
    reading every blob."""
    prefix = prefix.strip("/")
    below = listing.below(prefix)
    ignore_paths = [p for p in below if p.rsplit("/", 1)[-1] == IGNORE_FILE]
    texts = dict(zip(ignore_paths, repo.read_blobs([listing.files[p] for p in ignore_paths]), strict=True))
    start = len(prefix) + 1 if prefix else 0
    files = [(tuple(p[start:].split("/")[:-1]), t.decode("utf-8", "replace")) for p, t in texts.items()]
    digest = hashlib.sha256(b"fluxform-git-artifact-v2\0")
    if ignore:
        digest.update(f"spec.ignore\0{ignore}\0".encode())
    for path in below:
        entry = listing.files[path]
        digest.update(f"{path[start:]}\0{entry.mode}\0{entry.oid}\0".encode())
    return ListingFilter(IgnoreMatcher.for_ignore_files(files, ignore)), "sha256:" + digest.hexdigest()


class LazyCheckout:
    """The files of one revision below `prefix`, written under `root` when asked for.

    Paths given to and returned by the methods are relative to `prefix`."""

    def __init__(
        self,
        repo: GitRepository,
        listing: RevisionListing,
        root: Path,
        *,
        prefix: str = "",
        keep: ListingFilter | None = None,
        skeleton: bool = True,
    ) -> None:
        self.repo, self.listing, self.root, self.keep = repo, listing, root, keep
        self._prefix = prefix.strip("/")
        self._cut = len(self._prefix) + 1 if self._prefix else 0
        self.written: set[str] = set()
        self._has_skeleton = False
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if skeleton:
            self._skeleton()

    def _full(self, path: str) -> str:
        return f"{self._prefix}/{path}".strip("/") if self._prefix else path

    def _skeleton(self) -> None:
        """Every directory of the tree (filtered), so directory tests see the real layout;
        without it, only directories holding a written file exist."""
        if self._has_skeleton:
            return
        self._has_skeleton = True
        inside = [d[self._cut :] for d in self.listing.dirs if self._inside(d) and d != self._prefix]
        dirs = self.keep.directories(inside) if self.keep is not None else {"", *inside}
        for directory in sorted(dirs):
            if directory:
                (self.root / directory).mkdir(exist_ok=True)

    def _inside(self, full: str) -> bool:
        return not self._prefix or full == self._prefix or full.startswith(self._prefix + "/")

    def files_below(self, directory: str) -> list[str]:
        """The files the checkout holds, or would hold, under `directory` (relative)."""
        found = [p[self._cut :] for p in self.listing.below(self._full(directory))]
        return [p for p in found if self.keep is None or self.keep.keeps(p)]

    def has_file(self, path: str) -> bool:
        full = self._full(path)
        return full in self.listing.files and (self.keep is None or self.keep.keeps(path))

    def want(self, paths: Iterable[str]) -> int:
        """Write what `paths` name (a file, or a directory: everything below it) unless it
        is on disk already; paths the revision lacks are ignored. Returns files written."""
        todo: set[str] = set()
        for path in paths:
            clean = path.strip("/")
            if self.has_file(clean):
                todo.add(clean)
            elif clean == "" or self._full(clean) in self.listing.dirs:
                todo.update(self.files_below(clean))
        return self._write(sorted(todo - self.written))

    def want_flat(self, directories: Iterable[str]) -> int:
        """Write the files directly in each directory (not those of its subdirectories)."""
        todo: set[str] = set()
        for directory in directories:
            clean = directory.strip("/")
            cut = len(clean) + 1 if clean else 0
            todo.update(p for p in self.files_below(clean) if "/" not in p[cut:])
        return self._write(sorted(todo - self.written))

    def generated_files(self, directory: str, markers: tuple[str, ...]) -> list[str]:
        """What a generator scanning `directory` reads (Flux's, for a directory without a
        kustomization file): its files, and below it recursively, except that a
        subdirectory holding one of the `markers` contributes that file only."""
        clean = directory.strip("/")
        found: list[str] = []
        for name, kind in sorted(self.listing.children(self._full(clean)).items()):
            path = f"{clean}/{name}" if clean else name
            if kind == "blob":
                found += [path] if self.has_file(path) else []
                continue
            marker = next((f"{path}/{m}" for m in markers if self.has_file(f"{path}/{m}")), None)
            found += [marker] if marker is not None else self.generated_files(path, markers)
        return found

    def want_generated(self, directories: Iterable[str], markers: tuple[str, ...]) -> int:
        """Write what a generator scanning each directory reads (`generated_files`)."""
        todo = {p for d in directories for p in self.generated_files(d, markers)}
        return self._write(sorted(todo - self.written))

    def generated_complete(self, directory: str, markers: tuple[str, ...]) -> bool:
        return all(p in self.written for p in self.generated_files(directory, markers))

    def want_all(self) -> int:
        """The whole checkout, empty directories included."""
        self._skeleton()
        return self.want([""])

    def complete(self, directory: str) -> bool:
        """Every file below `directory` is on disk."""
        return all(p in self.written for p in self.files_below(directory))

    def _write(self, paths: list[str]) -> int:
        if not paths:
            return 0
        entries = [self.listing.files[self._full(p)] for p in paths]
        for path, entry, content in zip(paths, entries, self.repo.read_blobs(entries), strict=True):
            target = self.root.joinpath(*safe_parts(path))
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, BLOB_MODES[entry.mode])
            except FileExistsError:
                raise SourceError(f"{path} was written twice into {self.root}") from None
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            self.written.add(path)
        return len(paths)
