"""Build one Flux Kustomization's directory with real kustomize, as kustomize-controller does.

kustomize-controller writes its merged kustomization.yaml into its own copy of the artifact;
we write ours into a private overlay of the run's view of the source (view.py), so the shared
artifact is never touched and no tree is copied or mirrored per build. The engine is the
process's (fluxform.kustomize.engine: in-process or `kubectl kustomize`).

    output = build_directory(request, cache)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.kustomize.engine import kustomize_build, kustomize_engine
from fluxform.limits import DEFAULT_BUILD_TIMEOUT, LimitExceeded, check_object_count
from fluxform.objects import ObjectId, SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.kustomization.cache import BuildCache, build_key
from fluxform.planner.kustomization.closure import TreeFacts, input_closure, repo_relative
from fluxform.planner.kustomization.generate import prepare_kustomization
from fluxform.planner.kustomization.output import Documents, parse_documents
from fluxform.planner.kustomization.view import SourceView

__all__ = ["BuildOutput", "BuildRequest", "build_directory"]


@dataclass(frozen=True)
class BuildRequest:
    owner: ObjectId  # the Flux Kustomization (or the synthetic root) being built
    origin: SourceLocation | None  # where the owner is defined
    root: Path  # artifact root
    path: str  # spec.path as written
    spec: dict[str, object] | None  # the Flux Kustomization spec (None: plain build)
    timeout: float = DEFAULT_BUILD_TIMEOUT  # seconds kustomize may take (--build-timeout)
    # the run's view of `root` (shared by its builds); None: a view made for this build alone
    view: SourceView | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BuildOutput:
    text: str  # kustomize's multi-document output
    files: frozenset[Path]  # input closure (absolute)
    cached: bool
    #: what decrypted generator inputs put into the output (memory only; never cached)
    secret_values: frozenset[str] = field(default=frozenset(), repr=False)
    #: the documents of `text` parsed (output.py); None: not parsed (postbuild parses them)
    documents: Documents = field(default=None, repr=False, compare=False)


def build_directory(request: BuildRequest, cache: BuildCache) -> BuildOutput:
    directory = secure_join(request.root, request.path)
    if not directory.is_dir():
        raise RenderError(
            f"kustomization path not found: {request.path or './'}",
            subject=request.owner,
            location=request.origin,
            hint="spec.path is relative to the source root",
        )
    facts = request.view.facts if request.view is not None else TreeFacts()
    try:
        prepared = prepare_kustomization(directory, spec=request.spec, root=request.root)
        document_text = yamlio.dump(prepared.document)
        files = input_closure(request.root, directory, prepared.document, facts)
        root = request.root.resolve()
        # reads every input (once per run), refusing one over the file size limit (limits.py)
        target = str(directory.relative_to(request.root))
        key = build_key(kustomize_engine().version, document_text, files, root, target, facts.digest)
        cached = cache.get(key)
        if cached is not None:
            check_object_count(cached[0], "kustomize build")
            return BuildOutput(cached[0], frozenset(files), cached=True, documents=cached[1])
        _refuse_alias_bombs(files, root, facts)
        text = _run_build(request, directory, document_text, files)
        check_object_count(text, "kustomize build")
    except RenderError as exc:
        raise exc.with_context(subject=request.owner, location=request.origin) from None
    documents = parse_documents(text)
    cache.put(key, text, documents)
    return BuildOutput(text, frozenset(files), cached=False, documents=documents)


def _refuse_alias_bombs(files: Iterable[Path], root: Path, facts: TreeFacts) -> None:
    """kustomize expands YAML aliases without bound: refuse a file whose aliases expand past
    yamlio's bound before it runs (the heap limit would stop it too, but after gigabytes).
    Each file is checked once per run."""
    for path in sorted(files):
        if path.suffix in (".yaml", ".yml") and str(path) not in facts.alias_checked:
            try:
                yamlio.check_alias_expansion(facts.read(path, repo_relative(path, root)))
                facts.alias_checked.add(str(path))
            except yamlio.YamlError as exc:
                raise LimitExceeded(
                    str(exc),
                    location=SourceLocation(repo_relative(path, root), exc.line),
                    hint="a YAML alias bomb? anchors and aliases must not multiply a document",
                ) from None


def _run_build(request: BuildRequest, directory: Path, document_text: str, files: Iterable[Path]) -> str:
    relative = directory.resolve().relative_to(request.root.resolve())
    shown = "" if relative == Path() else str(relative)
    with _view(request) as view, view.overlay(directory, document_text) as build_dir:
        try:
            return kustomize_build(build_dir, timeout=request.timeout, paths=view.paths(build_dir, shown))
        except RenderError as exc:
            location = _duplicate_key_file(exc.detail, files, request.root.resolve()) or request.origin
            raise exc.with_context(subject=request.owner, location=location) from None


@contextlib.contextmanager
def _view(request: BuildRequest) -> Iterator[SourceView]:
    if request.view is not None:
        yield request.view
        return
    with SourceView.of(request.root) as view:
        yield view


_DUPLICATE = re.compile(r'line (\d+): mapping key "(.+?)" already defined at line (\d+)')


def _duplicate_key_file(message: str, files: Iterable[Path], root: Path) -> SourceLocation | None:
    """The input file a Go YAML decoder refused for a duplicate key: its message names the
    line and the key but not the file."""
    match = _DUPLICATE.search(message)
    if match is None:
        return None
    wanted = (match.group(2), int(match.group(1)), int(match.group(3)))
    for path in sorted(files):
        if path.suffix in (".yaml", ".yml") and wanted in yamlio.duplicate_keys(path.read_bytes()):
            return SourceLocation(repo_relative(path, root), wanted[1])
    return None
