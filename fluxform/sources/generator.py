"""ArtifactGenerator (source-watcher): ExternalArtifacts composed from other sources' files.

Flux 2.7's `source.extensions.fluxcd.io/v1beta1` ArtifactGenerator copies files from the
artifacts of its sources (GitRepository, OCIRepository, ...) into new artifacts, which
Kustomizations then read as `sourceRef: {kind: ExternalArtifact}`. flux2-kustomize-helm-example
splits its monorepo this way. This module reproduces source-watcher's builder for the
copy operations fluxform can perform offline:

* `from: "@alias/pattern"`: a plain path is copied like `cp -r` (a directory lands as
  `to/<its name>/`, a file at `to`, or under `to/` when `to` ends with `/` or is a
  directory already); a pattern is Go's `fs.Glob` (`*` and `**` both stop at `/`), and a
  `dir/**` pattern copies each match with `dir/` stripped;
* `exclude`: doublestar patterns matched against the path in the source and against the
  path below the pattern's literal prefix; a pattern without `/` also matches file names;
* `strategy: Merge` deep-merges a YAML file into an existing one (maps merged, lists
  replaced); `Overwrite` (default) replaces it;
* the staged files are archived with source-controller's default exclusions (VCS files,
  images, CI files) and nothing from `.sourceignore`.

`strategy: Extract` (tarballs) and `spec.pathPattern` are refused with a clear error.

    generator = ArtifactGenerator.from_doc(doc)
    build_artifact(generator.artifacts["apps"], {"monorepo": source_root}, staging_dir)
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import SourceError
from fluxform.limits import read_limited
from fluxform.objects import ObjectId
from fluxform.sources.merged_yaml import dump_merged

__all__ = ["GENERATOR_GROUP", "ArtifactGenerator", "CopyOperation", "OutputArtifact", "build_artifact", "go_glob"]

GENERATOR_GROUP = "source.extensions.fluxcd.io"
_ALIAS = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")


@dataclass(frozen=True)
class CopyOperation:
    source: str  # alias
    pattern: str  # path or glob inside the source
    to: str  # path inside the artifact ("" is its root)
    to_is_dir: bool  # `to` ended with "/"
    exclude: tuple[str, ...]
    strategy: str  # Overwrite | Merge


@dataclass(frozen=True)
class OutputArtifact:
    name: str
    copy: tuple[CopyOperation, ...]


@dataclass(frozen=True)
class ArtifactGenerator:
    id: ObjectId
    sources: Mapping[str, tuple[str, str, str]]  # alias -> (kind, namespace, name)
    artifacts: Mapping[str, OutputArtifact]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ArtifactGenerator:
        oid = ObjectId.from_manifest(doc)
        spec = doc.get("spec") if isinstance(doc.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)

        def fail(what: str) -> SourceError:
            return SourceError(f"ArtifactGenerator {oid.namespace}/{oid.name}: {what}", subject=oid)

        if spec.get("pathPattern"):
            raise fail("spec.pathPattern is not supported by fluxform yet")
        sources: dict[str, tuple[str, str, str]] = {}
        for ref in spec.get("sources") or []:
            alias = str((ref or {}).get("alias") or "")
            if not _ALIAS.match(alias) or alias in sources:
                raise fail(f"source alias {alias!r} is invalid or repeated")
            sources[alias] = (
                str(ref.get("kind") or ""),
                str(ref.get("namespace") or oid.namespace),
                str(ref.get("name")),
            )
        artifacts: dict[str, OutputArtifact] = {}
        for item in spec.get("artifacts") or []:
            name = str((item or {}).get("name") or "")
            operations = tuple(_operation(op, sources, fail) for op in item.get("copy") or [])
            if not name or not operations:
                raise fail(f"artifact {name!r} needs a name and at least one copy operation")
            artifacts[name] = OutputArtifact(name, operations)
        return cls(oid, sources, artifacts)


def _operation(op: Mapping[str, Any], sources: Mapping[str, object], fail: Any) -> CopyOperation:
    origin, to = str(op.get("from") or ""), str(op.get("to") or "")
    alias, slash, pattern = origin.removeprefix("@").partition("/")
    if not origin.startswith("@") or not slash:
        raise fail(f"copy from {origin!r}: the format is '@alias/pattern'")
    if alias not in sources:
        raise fail(f"copy from {origin!r}: source alias '{alias}' not found")
    if not to.startswith("@artifact/"):
        raise fail(f"copy to {to!r}: destination must start with '@artifact/'")
    strategy = str(op.get("strategy") or "Overwrite")
    if strategy not in ("Overwrite", "Merge"):
        raise fail(f"copy from {origin!r}: strategy {strategy} is not supported by fluxform yet")
    exclude = tuple(str(e) for e in op.get("exclude") or [])
    for item in exclude:
        try:
            _doublestar(item)
        except re.error:
            raise fail(f"invalid exclude pattern '{item}'") from None
    return CopyOperation(alias, pattern, to.removeprefix("@artifact/"), to.endswith("/"), exclude, strategy)


def build_artifact(artifact: OutputArtifact, sources: Mapping[str, Path], staging: Path) -> None:
    """Apply the copy operations, in order, from the source roots into `staging`."""
    staging.mkdir(parents=True, exist_ok=True)
    for op in artifact.copy:
        if op.source not in sources:
            raise SourceError(f"source alias '{op.source}' not found")
        try:
            _apply(op, sources[op.source], staging)
        except SourceError as exc:
            raise SourceError(
                f"failed to apply copy operation from '@{op.source}/{op.pattern}': {exc.summary}"
            ) from None


def _apply(op: CopyOperation, root: Path, staging: Path) -> None:
    destination = _clean(op.to)
    if not any(c in op.pattern for c in "*?[]"):
        source = _clean(op.pattern)
        path = _inside(root, source)
        if not path.exists():
            raise SourceError(f"source '{source}' does not exist")
        if path.is_dir():
            _copy(op, root, source, staging, _join(destination, Path(source).name), base=source)
            return
        if _excluded(source, ".", op.exclude):
            return
        target = destination
        if op.to_is_dir or _inside(staging, destination).is_dir():
            target = _join(destination, Path(source).name)
        _copy(op, root, source, staging, target, base=".")
        return
    matches = [m for m in go_glob(root, op.pattern) if m not in (".", "..")]
    if not matches:
        raise SourceError(f"no files match pattern '{op.pattern}' in source '{op.source}'")
    base = _selection_root(op.pattern)
    kept = [m for m in matches if not _excluded(m, base, op.exclude)]
    if not kept:
        raise SourceError(f"all files matching pattern '{op.pattern}' in source '{op.source}' were excluded")
    prefix = op.pattern.removesuffix("/**") if op.pattern.endswith("/**") else None
    for match in kept:
        relative = match.removeprefix(prefix + "/") if prefix and match.startswith(prefix + "/") else match
        _copy(op, root, match, staging, _join(destination, relative), base=base)


def _copy(op: CopyOperation, root: Path, source: str, staging: Path, target: str, *, base: str) -> None:
    path = _inside(root, source)
    if not path.is_dir():
        _copy_file(root, source, staging, target, merge=op.strategy == "Merge")
        return
    top = root.resolve()
    _inside(staging, target).mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(path):  # fs.WalkDir: lexical, excluded dirs skipped
        here = Path(dirpath)
        for name in sorted(dirnames):
            entry = here / name
            if entry.is_symlink() or _excluded(entry.relative_to(top).as_posix(), base, op.exclude):
                dirnames.remove(name)
            else:
                _inside(staging, _join(target, entry.relative_to(path).as_posix())).mkdir(exist_ok=True)
        dirnames.sort()
        for name in sorted(filenames):
            entry = here / name
            rel = entry.relative_to(top).as_posix()
            if entry.is_symlink() or not entry.is_file() or _excluded(rel, base, op.exclude):
                continue
            _copy_file(root, rel, staging, _join(target, entry.relative_to(path).as_posix()), merge=False)


def _copy_file(root: Path, source: str, staging: Path, target: str, *, merge: bool) -> None:
    src, dst = _inside(root, source), _inside(staging, target)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if merge and dst.is_file():
        merged = _deep_merge(_load_merged(dst), _load_merged(src))
        dst.write_text(dump_merged(merged), encoding="utf-8")
        return
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    shutil.copyfile(src, dst)
    shutil.copymode(src, dst)


def _load_merged(path: Path) -> dict[str, Any]:
    """Every document of a YAML file deep-merged into one map, as source-watcher's loadYAML."""
    try:
        docs = yamlio.load_all(read_limited(path))
    except yamlio.YamlError as exc:
        raise SourceError(f"cannot merge {path.name}: not YAML", detail=str(exc)) from None
    out: dict[str, Any] = {}
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise SourceError(f"cannot merge {path.name}: a document is not a map")
        out = _deep_merge(out, doc)
    return out


def _deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        current = out.get(key)
        out[key] = _deep_merge(current, value) if isinstance(value, dict) and isinstance(current, dict) else value
    return out


def _excluded(path: str, base: str, patterns: tuple[str, ...]) -> bool:
    """source-watcher's shouldExcludePath: against the path in the source, then against the
    path below the pattern's literal prefix."""
    if _matches_any(path, patterns):
        return True
    base = _clean(base)
    if base in ("", "."):
        return False
    if not path.startswith(base + "/"):
        return False
    return _matches_any(path[len(base) + 1 :], patterns)


def _matches_any(path: str, patterns: tuple[str, ...]) -> bool:
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        regex = _doublestar(pattern)
        if regex.fullmatch(path) or ("/" not in pattern and regex.fullmatch(name)):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _doublestar(pattern: str) -> re.Pattern[str]:
    """doublestar's Match: `**` as a whole segment spans any number of segments, `*` and `?`
    stay inside one, `[...]` classes (`!` or `^` negates), `{a,b}` alternatives, `\\` escapes."""
    out: list[str] = []
    i = depth = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*" and pattern.startswith("**", i) and (i == 0 or pattern[i - 1] == "/"):
            end = i + 2
            if end == len(pattern):
                if i > 0:  # "dir/**" matches dir itself too
                    out[-1] = "(?:/.*)?"
                else:
                    out.append(".*")
                i = end
                continue
            if pattern[end] == "/":
                out.append("(?:.*/)?")
                i = end + 1
                continue
        if c in "*?[\\":
            atom, i = _atom(pattern, i, "!^")
            out.append(atom)
            continue
        if c == "{":
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(c))
        i += 1
    if depth:
        raise re.error(f"unclosed alternatives in {pattern!r}")
    return re.compile("".join(out))


def go_glob(root: Path, pattern: str) -> list[str]:
    """Go's `fs.Glob` over the directory `root`: `path.Match` per segment (so `**` is `*`),
    results in directory order, sorted by name."""
    if not any(c in pattern for c in "*?[\\"):
        return [pattern] if _inside(root, pattern).exists() else []
    directory, _, name = pattern.rpartition("/")
    directory = directory or "."
    if not any(c in directory for c in "*?[\\"):
        return _glob_in(root, directory, name)
    found: list[str] = []
    for match in go_glob(root, directory):
        found += _glob_in(root, match, name)
    return found


def _glob_in(root: Path, directory: str, name: str) -> list[str]:
    path = _inside(root, directory)
    if not path.is_dir():
        return []
    regex = _go_match(name)
    prefix = "" if directory == "." else directory + "/"
    return [prefix + entry for entry in sorted(os.listdir(path)) if regex.fullmatch(entry)]


@functools.lru_cache(maxsize=256)
def _go_match(segment: str) -> re.Pattern[str]:
    """Go's path.Match for one segment: `*` any run, `?` one character, `[...]` with `^`."""
    out: list[str] = []
    i = 0
    try:
        while i < len(segment):
            atom, i = _atom(segment, i, "^")
            out.append(atom)
    except re.error:
        raise SourceError(f"invalid glob pattern segment {segment!r}") from None
    return re.compile("".join(out))


def _atom(pattern: str, i: int, negators: str) -> tuple[str, int]:
    """The regex of the glob atom at `pattern[i]` (`*`, `?`, `\\x`, a `[...]` class whose
    leading `negators` negate it, or a literal) and where the next atom starts."""
    c = pattern[i]
    if c == "*":
        return "[^/]*", i + 1
    if c == "?":
        return "[^/]", i + 1
    if c == "\\" and i + 1 < len(pattern):
        return re.escape(pattern[i + 1]), i + 2
    if c == "[":
        close = pattern.find("]", i + 2)
        if close < 0:
            raise re.error(f"unclosed class in {pattern!r}")
        body = pattern[i + 1 : close]
        negate = body[:1] in tuple(negators)
        body = body[1:] if negate else body
        return "[" + ("^/" if negate else "") + body.replace("\\", "\\\\") + "]", close + 1
    return re.escape(c), i + 1


def _selection_root(pattern: str) -> str:
    """The literal prefix of a pattern, before its first segment holding a glob character."""
    parts = []
    for part in _clean(pattern).split("/"):
        if any(c in part for c in "*?[]"):
            break
        parts.append(part)
    return "/".join(parts) or "."


def _clean(path: str) -> str:
    """`path` normalised; one leaving its root through `..` is refused, as os.Root does."""
    clean = posixpath.normpath(path.lstrip("/")) if path.strip("/") else "."
    if clean == ".." or clean.startswith("../"):
        raise SourceError(f"path '{path}' escapes its root")
    return "" if clean == "." else clean


def _join(directory: str, rel: str) -> str:
    return _clean(f"{directory}/{rel}")


def _inside(root: Path, rel: str) -> Path:
    """`rel` below `root`; a path escaping it (.., symlinks) is refused, as os.Root does."""
    target = (root / _clean(rel)).resolve() if rel else root.resolve()
    if not target.is_relative_to(root.resolve()):
        raise SourceError(f"path '{rel}' escapes its root")
    return target
