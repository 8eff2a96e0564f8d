"""A Flux source artifact on local disk: the fleet directory filtered exactly as
source-controller filters a Git checkout before archiving it.

Why a filtered copy and not the directory itself: files source-controller drops (`.github/`,
`*.png`, `**/.sops.yaml`, whatever `.sourceignore` names) are absent from the artifact, so
Flux's manifest generator never sees them; building from the raw checkout would plan objects
Flux never applies. Symlinks are not archived either. The copy lives in a private temp dir.

    with materialize_artifact(Path("fixtures/fleet"), ignore="") as artifact:
        build(artifact.root / "apps/staging")
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

from fluxform.decrypt.tmpfs import private_dir
from fluxform.errors import SourceError
from fluxform.scratch import scratch_dir

__all__ = [
    "ARTIFACT_PREFIX",
    "EXCLUDE_FLUXFORM",
    "EXCLUDE_VCS",
    "IGNORE_FILE",
    "MEMORY_COPY_LIMIT",
    "Artifact",
    "CopyTooLarge",
    "IgnoreMatcher",
    "ListingFilter",
    "copy_filtered",
    "materialize_artifact",
]

IGNORE_FILE = ".sourceignore"
EXCLUDE_VCS = (".git/", ".gitignore", ".gitmodules", ".gitattributes")
EXCLUDE_DEFAULTS = (
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
    ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
    "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
    "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
)  # fmt: skip
# fluxform's own working files (local state, its lock, apply journals) live in `.fluxform/`
# beside the fleet by default. They are never manifests, and an apply takes the state lock
# (a file there) before it re-renders to check the plan: were they part of the artifact, every
# plan would be stale at its own apply. Matched last, so no `.sourceignore` re-includes them.
EXCLUDE_FLUXFORM = ("**/.fluxform/",)


@dataclass(frozen=True)
class _Rule:
    domain: tuple[str, ...]  # directory the pattern is anchored to (from its .sourceignore)
    pattern: GitIgnoreSpecPattern


class IgnoreMatcher:
    """gitignore matching with per-directory domains; the last matching pattern wins."""

    def __init__(self, rules: list[_Rule]) -> None:
        self._rules = rules

    @classmethod
    def for_tree(cls, root: Path, extra: str = "") -> IgnoreMatcher:
        """source-controller's rules: every `.sourceignore` in the tree plus `spec.ignore`;
        if none of those yields a pattern, the default exclusions apply; VCS files always."""
        return cls.for_ignore_files(_sourceignore_files(root, ()), extra)

    @classmethod
    def for_ignore_files(cls, files: Iterable[tuple[tuple[str, ...], str]], extra: str = "") -> IgnoreMatcher:
        """The same rules from `.sourceignore` texts given as (directory parts, text), e.g.
        read from git; they are applied in depth-first order, as the tree walk reads them."""
        collected = [
            _Rule(domain, GitIgnoreSpecPattern(line))
            for domain, text in sorted(files, key=lambda item: item[0])
            for line in _pattern_lines(text)
        ]
        collected += [_Rule((), GitIgnoreSpecPattern(line)) for line in _pattern_lines(extra)]
        base = [_Rule((), GitIgnoreSpecPattern(p)) for p in EXCLUDE_VCS]
        if not collected:
            base += [_Rule((), GitIgnoreSpecPattern(p)) for p in EXCLUDE_DEFAULTS]
        return cls(base + collected + _fluxform_rules())

    @classmethod
    def for_push(cls, root: Path, ignore_paths: Iterable[str]) -> IgnoreMatcher:
        """`flux push artifact --ignore-paths` (no defaults added), then every `.sourceignore`
        in the tree (fluxform honours them at push too: source-controller would drop those
        files after pulling anyway)."""
        rules = [_Rule((), GitIgnoreSpecPattern(p)) for p in ignore_paths if p.strip() and not p.startswith("#")]
        for domain, text in _sourceignore_files(root, ()):
            rules += [_Rule(domain, GitIgnoreSpecPattern(line)) for line in _pattern_lines(text)]
        return cls(rules + _fluxform_rules())

    @property
    def has_negations(self) -> bool:
        """A `!` pattern can re-include a file inside an excluded directory, so such trees
        must be walked file by file (as source-controller does) instead of pruned."""
        return any(rule.pattern.include is False for rule in self._rules)

    def ignored(self, rel_parts: tuple[str, ...], is_dir: bool) -> bool:
        verdict = False
        for rule in self._rules:
            n = len(rule.domain)
            if rel_parts[:n] != rule.domain or len(rel_parts) == n:
                continue
            rel = "/".join(rel_parts[n:]) + ("/" if is_dir else "")
            if rule.pattern.include is not None and rule.pattern.match_file(rel) is not None:
                verdict = bool(rule.pattern.include)
        return verdict


class ListingFilter:
    """`copy_filtered`'s verdicts for paths from a listing (e.g. a git tree), one path at a
    time, so a caller can materialise part of an artifact and still keep exactly the files
    the whole walk would keep. Directory verdicts are memoised."""

    def __init__(self, matcher: IgnoreMatcher) -> None:
        self.matcher = matcher
        self._prune = not matcher.has_negations
        self._dirs: dict[tuple[str, ...], bool] = {(): False}
        self._files: dict[str, bool] = {}

    def _dir_ignored(self, parts: tuple[str, ...]) -> bool:
        """The walk does not enter it (pruning) or does not create it."""
        verdict = self._dirs.get(parts)
        if verdict is None:
            verdict = (self._prune and self._dir_ignored(parts[:-1])) or self.matcher.ignored(parts, True)
            self._dirs[parts] = verdict
        return verdict

    def prunes(self, parts: tuple[str, ...]) -> bool:
        """The walk does not enter this directory (only without `!` patterns)."""
        return self._prune and self._dir_ignored(parts)

    def has_dir(self, parts: tuple[str, ...]) -> bool:
        """The artifact has this directory (of one the walk enters)."""
        return not parts or not self._dir_ignored(parts)

    def keeps(self, path: str) -> bool:
        """A file (POSIX path relative to the source root) the artifact holds."""
        verdict = self._files.get(path)
        if verdict is None:
            parts = tuple(path.split("/"))
            ignored = (self._prune and self._dir_ignored(parts[:-1])) or self.matcher.ignored(parts, False)
            verdict = self._files[path] = not ignored
        return verdict

    def directories(self, dirs: Iterable[str]) -> set[str]:
        """Which of these directories the artifact has (with their ancestors: the walk
        creates them with parents=True); ancestors of kept files are added by callers."""
        found = {""}
        for directory in dirs:
            parts = tuple(directory.split("/")) if directory else ()
            if parts and not self._dir_ignored(parts):
                found.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
        return found


def _fluxform_rules() -> list[_Rule]:
    return [_Rule((), GitIgnoreSpecPattern(p)) for p in EXCLUDE_FLUXFORM]


def _pattern_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _sourceignore_files(directory: Path, domain: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    found: list[tuple[tuple[str, ...], str]] = []
    ignore_file = directory / IGNORE_FILE
    if ignore_file.is_file():
        found.append((domain, ignore_file.read_text(encoding="utf-8", errors="replace")))
    for child in sorted(directory.iterdir()):
        if child.is_dir() and not child.is_symlink() and child.name != ".git":
            found += _sourceignore_files(child, (*domain, child.name))
    return found


class CopyTooLarge(Exception):
    """copy_filtered's copies passed their `copy_limit`, or filled their filesystem (the
    caller copies elsewhere)."""


def copy_filtered(src: Path, dest: Path, matcher: IgnoreMatcher, *, copy_limit: int | None = None) -> str:
    """Copy regular files and directories not ignored; returns a sha256 over paths+contents
    (the artifact's content digest, stable across runs and machines). Files are hard-linked
    where `dest` is on `src`'s filesystem; `copy_limit`: the most bytes copied otherwise
    (CopyTooLarge past it)."""
    digest = hashlib.sha256()
    keep = ListingFilter(matcher)
    dest.mkdir(parents=True, exist_ok=True)
    link = os.stat(src).st_dev == os.stat(dest).st_dev
    copied = 0
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = Path(dirpath).relative_to(src)
        parts = () if str(rel_dir) == "." else rel_dir.parts
        dirnames[:] = sorted(
            d for d in dirnames if not (Path(dirpath) / d).is_symlink() and d != ".git" and not keep.prunes((*parts, d))
        )
        if keep.has_dir(parts):
            (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            source = Path(dirpath) / name
            if source.is_symlink() or not source.is_file() or not keep.keeps("/".join((*parts, name))):
                continue
            data = source.read_bytes()
            target = dest / rel_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if link:
                _place(source, target, data)
            else:
                copied += len(data)
                if copy_limit is not None and copied > copy_limit:
                    raise CopyTooLarge(f"{src}: more than {copy_limit} bytes")
                try:
                    _write_copy(source, target, data)
                except OSError as exc:
                    if copy_limit is not None and exc.errno == errno.ENOSPC:  # a full tmpfs
                        raise CopyTooLarge(f"{src}: no space left after {copied} bytes") from exc
                    raise
            rel = "/".join((*parts, name))
            digest.update(f"{rel}\0{len(data)}\0".encode())
            digest.update(data)
    return "sha256:" + digest.hexdigest()


def _place(source: Path, target: Path, data: bytes) -> None:
    """Hard-link when possible (nothing ever writes into an artifact), else copy."""
    try:
        os.link(source, target)
    except OSError:
        _write_copy(source, target, data)


def _write_copy(source: Path, target: Path, data: bytes) -> None:
    target.write_bytes(data)
    shutil.copymode(source, target)


@dataclass(frozen=True)
class Artifact:
    """A materialised source: `root` is the private filtered copy, `origin` the user's dir."""

    origin: Path
    root: Path
    digest: str


@contextlib.contextmanager
def materialize_artifact(directory: Path, *, ignore: str = "") -> Iterator[Artifact]:
    """Filtered private copy of `directory`, removed on exit."""
    if not directory.is_dir():
        raise SourceError(f"source directory {directory} does not exist")
    resolved = directory.resolve()
    if resolved == Path(resolved.anchor):
        raise SourceError(
            f"refusing to use the filesystem root {resolved} as a source (it would copy every file)",
            hint="--repo-root and --source take the repository's own directory",
        )
    matcher = IgnoreMatcher.for_tree(directory, ignore)
    with contextlib.ExitStack() as stack:
        try:
            root, digest = _copy_in_memory(resolved, matcher, directory, stack)
        except CopyTooLarge:
            stack.close()  # removes the partial copy
            root = stack.enter_context(scratch_dir(ARTIFACT_PREFIX)) / "artifact"
            digest = _copy(resolved, root, matcher, directory, copy_limit=None)
        yield Artifact(origin=resolved, root=root, digest=digest)


#: An artifact copy's scratch directory starts with it.
ARTIFACT_PREFIX = "fluxform-src-"
#: The most bytes of a source copied to memory (tmpfs); a larger one is hard-linked on disk.
MEMORY_COPY_LIMIT = 256 * 1024 * 1024


def _copy_in_memory(
    source: Path, matcher: IgnoreMatcher, directory: Path, stack: contextlib.ExitStack
) -> tuple[Path, str]:
    """The copy on tmpfs when there is one: making and removing a few thousand entries there
    costs no disk I/O (the links and their removal on a loaded disk were a fifth of a warm
    plan's samples on a generated fleet of 200 Kustomizations), at the price of the
    source's size in memory, bounded by MEMORY_COPY_LIMIT. Without tmpfs: hard links in the
    temp dir."""
    root = stack.enter_context(private_dir(require_tmpfs=False, prefix=ARTIFACT_PREFIX)) / "artifact"
    return root, _copy(source, root, matcher, directory, copy_limit=MEMORY_COPY_LIMIT)


def _copy(source: Path, root: Path, matcher: IgnoreMatcher, directory: Path, *, copy_limit: int | None) -> str:
    try:
        return copy_filtered(source, root, matcher, copy_limit=copy_limit)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise SourceError(
            f"cannot copy source directory {directory}: {where}{exc.strerror or type(exc).__name__}",
            hint="is it the repository's own directory, readable by this user?",
        ) from None
