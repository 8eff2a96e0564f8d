"""The input closure of a kustomize directory: every file a build of it may read.

Used for the build cache key and for changed-only planning. It over-approximates on
purpose (a stale cache entry is a wrong plan; a spurious miss only costs a build): every
file beside a kustomization file, every path-like string in it that exists, recursively.
Remote bases are refused here because fluxform plans offline from the artifact.

Every build of a run asks the same questions of the same tree (where does `../base` lead, is
it a file, what is beside it), and the tree does not change while a run reads it (an
artifact is a private copy nothing writes into), so `TreeFacts`, kept by the run's view of
the source, answers each once.

    files = input_closure(artifact_root, artifact_root / "apps/staging", prepared.document, view.facts)
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.limits import read_limited
from fluxform.planner.kustomization.generate import KUSTOMIZATION_FILE_NAMES

__all__ = ["REMOTE_PREFIXES", "TreeFacts", "file_references", "input_closure", "is_remote"]

REMOTE_PREFIXES = (
    "http://", "https://", "git::", "gh:", "ssh://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/",
)  # fmt: skip


def is_remote(reference: str) -> bool:
    return reference.lower().startswith(REMOTE_PREFIXES) or "?ref=" in reference


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


_LIST_FIELDS = (
    "resources",
    "components",
    "bases",
    "crds",
    "configurations",
    "transformers",
    "generators",
    "validators",
)


def file_references(document: Mapping[str, Any]) -> Iterator[str]:
    """Every path a kustomization makes kustomize read (inline YAML entries excluded)."""
    for field in _LIST_FIELDS:
        for ref in document.get(field) or []:
            if isinstance(ref, str) and "\n" not in ref:
                yield ref
    for field in ("patches", "patchesJson6902", "replacements"):
        for entry in document.get(field) or []:
            if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
                yield entry["path"]
    for entry in document.get("patchesStrategicMerge") or []:
        if isinstance(entry, str) and "\n" not in entry and ":" not in entry:
            yield entry
    for field in ("configMapGenerator", "secretGenerator"):
        for gen in document.get(field) or []:
            if not isinstance(gen, Mapping):
                continue
            for ref in [*(gen.get("files") or []), *(gen.get("envs") or []), gen.get("env")]:
                if isinstance(ref, str) and ref:
                    yield ref.rpartition("=")[2] if "=" in ref else ref
    openapi = document.get("openapi")
    if isinstance(openapi, Mapping) and isinstance(openapi.get("path"), str):
        yield openapi["path"]


class TreeFacts:
    """Answers about one source tree during one run, each asked of the filesystem once."""

    def __init__(self) -> None:
        self._real: dict[str, str] = {}
        self._kind: dict[str, str] = {}  # "f" file, "d" directory, "" neither
        self._beside: dict[str, tuple[Path, ...]] = {}
        self._below: dict[str, tuple[Path, ...]] = {}
        self._marker: dict[str, str | None] = {}
        self._bytes: dict[str, bytes] = {}
        self._digests: dict[str, bytes] = {}
        self._reading: dict[str, threading.Lock] = {}  # one reader per file when builds run in threads
        self._reading_guard = threading.Lock()
        self.alias_checked: set[str] = set()  # files build.py found free of alias bombs

    def real(self, path: str) -> str:
        found = self._real.get(path)
        if found is None:
            found = self._real[path] = os.path.realpath(path)
        return found

    def kind(self, path: str) -> str:
        found = self._kind.get(path)
        if found is None:
            try:
                mode = os.stat(path).st_mode
            except (OSError, ValueError):
                mode = 0
            found = self._kind[path] = "f" if stat.S_ISREG(mode) else "d" if stat.S_ISDIR(mode) else ""
        return found

    def files_beside(self, directory: str) -> tuple[Path, ...]:
        """The files directly in `directory`."""
        found = self._beside.get(directory)
        if found is None:
            with os.scandir(directory) as entries:
                names = [e.name for e in entries]
            found = self._beside[directory] = tuple(
                Path(directory, n) for n in names if self.kind(os.path.join(directory, n)) == "f"
            )
        return found

    def files_below(self, directory: str) -> tuple[Path, ...]:
        found = self._below.get(directory)
        if found is None:
            found = self._below[directory] = tuple(_all_files(Path(directory)))
        return found

    def kustomization_file(self, directory: str) -> str | None:
        if directory not in self._marker:
            names = (n for n in KUSTOMIZATION_FILE_NAMES if self.kind(os.path.join(directory, n)) == "f")
            self._marker[directory] = next(names, None)
        return self._marker[directory]

    def read(self, path: Path, what: str) -> bytes:
        """The file's bytes (refused over the file size limit), read once per run."""
        key = str(path)
        found = self._bytes.get(key)
        if found is not None:
            return found
        with self._reading_guard:
            lock = self._reading.setdefault(key, threading.Lock())
        with lock:  # builds of overlays sharing a base run in threads: the base is read once
            found = self._bytes.get(key)
            if found is None:
                found = self._bytes[key] = read_limited(path, what=what)
        return found

    def digest(self, path: Path, what: str) -> bytes:
        """SHA-256 of the file's bytes, hashed once per run (for build cache keys)."""
        key = str(path)
        found = self._digests.get(key)
        if found is None:
            found = self._digests[key] = hashlib.sha256(self.read(path, what)).digest()
        return found


def _check_confined(root: Path, directory: Path, document: Mapping[str, Any], facts: TreeFacts) -> None:
    """Flux builds on a secure filesystem rooted at the artifact: nothing outside it loads."""
    base, inside = str(directory), str(root)
    for ref in file_references(document):
        if is_remote(ref):
            continue
        target = facts.real(os.path.join(base, ref))
        if not (target == inside or target.startswith(inside + os.sep)):
            raise RenderError(
                f"{ref!r} is outside the source root",
                hint="Flux's secure filesystem refuses files outside the artifact; keep them in the repository",
            )


def _all_files(directory: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def input_closure(
    root: Path, directory: Path, document: Mapping[str, Any], facts: TreeFacts | None = None
) -> set[Path]:
    """Files (absolute, inside `root`) a build of `directory` with `document` may read;
    `facts`: the run's answers about this tree (a fresh set when not given)."""
    seen_dirs: set[str] = set()
    files: set[Path] = set()
    real_root = Path(root).resolve()
    _visit(real_root, str(directory.resolve()), document, files, seen_dirs, facts or TreeFacts())
    return files


def _visit(
    root: Path, directory: str, document: Mapping[str, Any] | None, files: set[Path], seen: set[str], facts: TreeFacts
) -> None:
    if directory in seen:
        return
    seen.add(directory)
    if document is None:
        name = facts.kustomization_file(directory)
        if name is None:
            # no kustomization: the generator reads everything below
            files.update(facts.files_below(directory))
            return
        path = Path(directory, name)
        try:
            loaded = yamlio.load(facts.read(path, repo_relative(path, root)))
        except yamlio.YamlError:
            loaded = None  # kustomize will report it; the file itself is in the closure below
        document = loaded if isinstance(loaded, Mapping) else {}
    _check_confined(root, Path(directory), document, facts)
    files.update(facts.files_beside(directory))
    for field in ("resources", "components", "bases"):
        for ref in document.get(field) or []:
            if isinstance(ref, str) and is_remote(ref):
                raise RenderError(
                    f"remote {field[:-1]} {ref!r} is not supported offline",
                    hint="vendor it into the repository, or map it with --source",
                )
    top = str(root)
    for text in _strings(document):
        for candidate in (text, text.partition("=")[2]):
            if not candidate or "\n" in candidate or len(candidate) > 4096:
                continue
            target = facts.real(os.path.join(directory, candidate))
            if not (target == top or target.startswith(top + os.sep)):
                continue
            kind = facts.kind(target)
            if kind == "f":
                files.add(Path(target))
            elif kind == "d" and target != directory:
                if facts.kustomization_file(target) is not None:
                    _visit(root, target, None, files, seen, facts)
                else:
                    files.update(facts.files_below(target))


def repo_relative(path: Path, root: Path) -> str:
    """`path` as the repository names it (absolute when outside `root`)."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
