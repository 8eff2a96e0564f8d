"""Where kustomize builds: one confined view of each source per run, one small overlay per build.

kustomize-controller writes the kustomization.yaml it generates into its own copy of the
artifact. We must not write into the shared artifact (builds run in parallel, and a parent
directory's generator walk would see our files), nor copy it per build. So each source gets
one *view* per run: its directories made again below a private scratch dir, each file a
symlink to the artifact's. A build of `a/b/c` then gets an *overlay*: a private directory
beside `c` in the view (`a/b/.fluxform-XXXX`) holding a symlink to each entry of `c` and our
kustomization.yaml, removed after the build. Relative references resolve exactly as in the
artifact (`../base` from the overlay is the view's `a/b/base`), and only the artifact's files
are reachable; references leaving the source root are refused before the build
(closure.py), as Flux's secure filesystem refuses them.

    with SourceView.of(artifact_root) as view, view.overlay(artifact_root / "a/b/c", text) as build_dir:
        kustomize_build(build_dir, paths=view.paths(build_dir, "a/b/c"))
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from fluxform.decrypt.tmpfs import private_dir
from fluxform.planner.kustomization.closure import TreeFacts
from fluxform.planner.kustomization.generate import KUSTOMIZATION_FILE_NAMES

__all__ = ["OVERLAY_PREFIX", "VIEW_PREFIX", "SourceView"]

#: Overlay directories start with it (kustomize's messages name them; paths() maps them back).
OVERLAY_PREFIX = ".fluxform-build-"
#: A view's scratch directory starts with it.
VIEW_PREFIX = "fluxform-view-"


class SourceView:
    """The view of one source artifact; made on first use, shared by every build of the run."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = root.resolve()
        self.scratch = scratch
        self.tree = scratch / "view"
        self.facts = TreeFacts()  # what builds asked of the source this run (it does not change)
        self._made = False
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def of(cls, root: Path) -> Iterator[SourceView]:
        """A view of `root`, removed (overlays and all) on the way out. It holds only symlinks
        and Flux's kustomization documents, so it lives on tmpfs when there is one: making
        and removing a thousand entries there costs no disk I/O."""
        with private_dir(require_tmpfs=False, prefix=VIEW_PREFIX) as scratch:
            yield cls(root, scratch)

    @contextlib.contextmanager
    def overlay(self, directory: Path, kustomization: str) -> Iterator[Path]:
        """A private directory standing for `directory` (inside the root) with `kustomization`
        as its kustomization.yaml; removed when the build is done."""
        self._make()
        relative = directory.resolve().relative_to(self.root)
        parent = self.tree / relative.parent if relative.parts else self.scratch
        built = Path(tempfile.mkdtemp(prefix=OVERLAY_PREFIX, dir=parent))
        try:
            source = self.tree / relative
            with os.scandir(source) as entries:
                for entry in entries:
                    if entry.name not in KUSTOMIZATION_FILE_NAMES:
                        os.symlink(source / entry.name, built / entry.name)
            (built / "kustomization.yaml").write_text(kustomization, encoding="utf-8")
            yield built
        finally:
            _remove_overlay(built)

    def paths(self, overlay: Path, shown: str) -> dict[Path, str]:
        """How kustomize's messages name our private paths: the overlay as the directory it
        stands for, the view and the artifact as the repository root."""
        return {overlay: shown, self.tree: "", self.root: ""}

    def _make(self) -> None:
        with self._lock:
            if not self._made:
                _mirror_tree(self.root, self.tree)
                self._made = True


def _mirror_tree(root: Path, tree: Path) -> None:
    """Every directory of `root` again below `tree`, every other entry a symlink to `root`'s.
    A symlink of the source itself (a Flux artifact has none; a --source directory may) is
    kept only when it resolves inside the root: Flux's secure filesystem refuses the others,
    and here kustomize then finds no such file."""
    tree.mkdir(mode=0o700)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        target = tree / here.relative_to(root)
        for name in dirnames:
            if not (here / name).is_symlink():
                (target / name).mkdir()
            elif _inside(here / name, root):
                os.symlink(here / name, target / name)
        for name in filenames:
            if _inside(here / name, root):
                os.symlink(here / name, target / name)


def _inside(path: Path, root: Path) -> bool:
    if not path.is_symlink():
        return True
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop
        return False


def _remove_overlay(built: Path) -> None:
    """Its entries are symlinks and our one file: unlinked, never followed."""
    with contextlib.suppress(FileNotFoundError):
        with os.scandir(built) as entries:
            for entry in entries:
                os.unlink(entry.path)
        os.rmdir(built)
