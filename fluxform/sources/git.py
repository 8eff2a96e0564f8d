"""Git revisions as private source trees, read straight from the object database.

`fluxform diff` renders two revisions of a repository without touching the user's work
tree, index or worktree list: each revision's blobs are written into a private directory
the caller owns. Blobs are read raw (`git cat-file --batch`), never through `git archive`,
whose `export-ignore`/`export-subst` attributes would make the tree differ from the
checkout source-controller archives. Symlinks and submodules are skipped, as
source-controller's artifact drops symlinks and does not recurse into submodules.

Works in a shallow clone as long as both commits are present; a missing one is a
SourceError telling how to fetch it.

    repo = GitRepository.containing(Path("clusters/staging"))
    base = repo.resolve("origin/main")
    repo.extract(base, scratch / "base")
    repo.changed_files(base, repo.resolve("HEAD"))  # ("apps/base/podinfo/deployment.yaml", ...)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fluxform.errors import SourceError, ToolError
from fluxform.tool import find_executable, run_tool

__all__ = ["BLOB_MODES", "GitRepository", "TreeEntry", "safe_parts"]

BLOB_MODES = {"100644": 0o644, "100755": 0o755}


@dataclass(frozen=True, slots=True)
class TreeEntry:
    mode: str  # git file mode: 100644, 100755, 120000 (symlink), 040000 (tree), 160000 (submodule)
    kind: str  # blob | tree | commit
    oid: str
    path: str  # repository-relative, POSIX separators


def _git() -> str:
    git = find_executable("git")
    if git is None:
        raise SourceError("git is not installed", hint="install git; `fluxform diff` reads revisions with it")
    return git


#: the author and date of work-tree snapshots: fixed, so the same work tree is the same commit
_SNAPSHOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "fluxform",
    "GIT_AUTHOR_EMAIL": "fluxform@localhost",
    "GIT_AUTHOR_DATE": "@0 +0000",
    "GIT_COMMITTER_NAME": "fluxform",
    "GIT_COMMITTER_EMAIL": "fluxform@localhost",
    "GIT_COMMITTER_DATE": "@0 +0000",
}


@dataclass(frozen=True)
class GitRepository:
    """A local clone; `top` is its work tree root (paths below are relative to it). `env`:
    variables every git call gets (a work-tree snapshot's private object store)."""

    top: Path
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def containing(cls, path: Path) -> GitRepository:
        directory = path.resolve()
        while not directory.is_dir() and directory != directory.parent:
            directory = directory.parent  # a path that exists only at another revision
        result = run_tool([_git(), "rev-parse", "--show-toplevel"], tool="git", cwd=directory, check=False)
        if result.exit_code != 0:
            raise SourceError(f"{path} is not inside a git repository", hint="run fluxform diff inside a git clone")
        return cls(Path(result.stdout.decode().strip()))

    def _run(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        try:
            environ = {**dict(self.env), **(env or {})} or None
            return run_tool([_git(), *args], tool="git", cwd=self.top, stdin=stdin, env=environ).stdout
        except ToolError as exc:
            raise SourceError(f"git {args[0]} failed in {self.top}", detail=exc.stderr_tail) from exc

    def is_shallow(self) -> bool:
        return self._run("rev-parse", "--is-shallow-repository").strip() == b"true"

    def resolve(self, revision: str) -> str:
        """The full commit id `revision` names; SourceError when it is not in this clone."""
        result = run_tool(
            [_git(), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"],
            tool="git",
            cwd=self.top,
            env=dict(self.env) or None,
            check=False,
        )
        if result.exit_code == 0:
            return result.stdout.decode().strip()
        shallow = self.is_shallow()
        raise SourceError(
            f"revision {revision!r} is not in this clone" + (" (it is a shallow clone)" if shallow else ""),
            hint=(
                f"fetch it first, e.g. `git fetch --depth=1 origin {revision}`, or check out with full history "
                "(actions/checkout: fetch-depth: 0)"
            ),
        )

    def snapshot_work_tree(self, scratch: Path) -> tuple[GitRepository, str]:
        """The work tree as a commit on top of HEAD, as `git add -A` would stage it: tracked
        files with their uncommitted edits and deletions, and untracked files git does not
        ignore. Its objects go to a private store under `scratch` (the caller's, removed with
        it); the user's index, HEAD, refs and object store are not touched. Returns a handle
        that reads that store besides the repository's, and the commit."""
        store = scratch / "objects"
        store.mkdir(mode=0o700, parents=True)
        index = scratch / "index"
        real_index = Path(self._run("rev-parse", "--path-format=absolute", "--git-path", "index").decode().strip())
        if real_index.is_file():  # its stat data spares hashing unchanged files again
            index.write_bytes(real_index.read_bytes())
        objects = self._run("rev-parse", "--path-format=absolute", "--git-path", "objects").decode().strip()
        snapshot = GitRepository(
            self.top,
            (
                *self.env,
                ("GIT_INDEX_FILE", str(index)),
                ("GIT_OBJECT_DIRECTORY", str(store)),
                ("GIT_ALTERNATE_OBJECT_DIRECTORIES", objects),
            ),
        )
        head = self.resolve("HEAD")
        if not index.exists():
            snapshot._run("read-tree", head)
        snapshot._run("add", "--all", "--", ":/")
        tree = snapshot._run("write-tree").decode().strip()
        commit = snapshot._run("commit-tree", tree, "-p", head, "-m", "fluxform: work tree", env=_SNAPSHOT_IDENTITY)
        return snapshot, commit.decode().strip()

    def tree_id(self, commit: str) -> str:
        return self._run("rev-parse", f"{commit}^{{tree}}").decode().strip()

    def changed_files(self, base: str, head: str) -> tuple[str, ...]:
        """Paths that differ between two commits; a rename counts as a delete plus an add."""
        out = self._run("diff", "--name-only", "--no-renames", "--no-ext-diff", "-z", base, head, "--")
        return tuple(sorted(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p))

    def entries(self, commit: str, path: str = "") -> list[TreeEntry]:
        """Entries of the tree at `path` in `commit` (recursively for the whole commit)."""
        args = ["ls-tree", "-z", "--full-tree"]
        args += ["-r", commit] if not path else [commit, "--", path.rstrip("/") + "/"]
        out = self._run(*args).decode("utf-8", "surrogateescape")
        return list(_parse_ls_tree(out))

    def read_blobs(self, entries: list[TreeEntry]) -> list[bytes]:
        """The raw contents of blobs, in order, from one `git cat-file --batch`."""
        if not entries:
            return []
        data = self._run("cat-file", "--batch", stdin="".join(f"{e.oid}\n" for e in entries).encode())
        contents, offset = [], 0
        for entry in entries:
            content, offset = _next_blob(data, offset, entry.oid)
            contents.append(content)
        return contents

    def extract(self, commit: str, destination: Path) -> int:
        """Write every regular file of `commit` under `destination` (created, private);
        returns how many files were written."""
        blobs = [e for e in self.entries(commit) if e.kind == "blob" and e.mode in BLOB_MODES]
        destination.mkdir(mode=0o700, parents=True, exist_ok=True)
        made: set[Path] = set()
        for entry, content in zip(blobs, self.read_blobs(blobs), strict=True):
            target = destination.joinpath(*safe_parts(entry.path))
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, BLOB_MODES[entry.mode])
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        return len(blobs)


def _parse_ls_tree(out: str) -> Iterator[TreeEntry]:
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        mode, kind, oid = meta.split(" ")
        yield TreeEntry(mode, kind, oid, path)


def _next_blob(data: bytes, offset: int, oid: str) -> tuple[bytes, int]:
    """One `<oid> blob <size>\\n<content>\\n` record of `git cat-file --batch` output."""
    newline = data.index(b"\n", offset)
    header = data[offset:newline].decode().split(" ")
    if len(header) != 3 or header[0] != oid or header[1] != "blob":
        raise SourceError(f"unexpected git cat-file output for {oid}: {' '.join(header)[:80]}")
    start = newline + 1
    end = start + int(header[2])
    return data[start:end], end + 1


def safe_parts(path: str) -> tuple[str, ...]:
    parts = PurePosixPath(path).parts
    if not parts or any(p in ("", ".", "..") for p in parts) or path.startswith("/"):
        raise SourceError(f"refusing unsafe path {path!r} in a git tree")
    return parts
