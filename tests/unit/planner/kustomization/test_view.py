"""Where builds happen (issue 21, lever 2): one view per source per run, a private overlay
per build, and Flux's confinement kept with both engines: nothing outside the source root
is read, by a `..` reference or through a symlink."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxform.errors import RenderError
from fluxform.objects import SourceLocation
from fluxform.planner.kustomization import view as view_module
from fluxform.planner.kustomization.build import BuildOutput, BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.kustomization.view import OVERLAY_PREFIX, SourceView
from tests.support.engines import ENGINES, use_engine
from tests.support.ids import ks
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, write_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"
OUTSIDE = CM.format(name="outside-the-root")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with use_engine(monkeypatch, str(request.param)):
        yield str(request.param)


def _build(root: Path, path: str, view: SourceView | None = None) -> BuildOutput:
    request = BuildRequest(ks("apps"), SourceLocation("clusters/dev/apps.yaml"), root, path, {}, view=view)
    return build_directory(request, BuildCache.disabled())


def _outside_and_root(tmp_path: Path, files: dict[str, str]) -> Path:
    write_tree(tmp_path, {"secret.yaml": OUTSIDE})
    return write_tree(tmp_path / "root", files)


def test_dot_dot_out_of_the_root_is_refused(tmp_path: Path, engine: str) -> None:
    root = _outside_and_root(tmp_path, {"app/kustomization.yaml": "resources: [../../secret.yaml]\n"})
    with pytest.raises(RenderError, match="is outside the source root"):
        _build(root, "app")


def test_file_symlink_out_of_the_root_is_refused(tmp_path: Path, engine: str) -> None:
    root = _outside_and_root(tmp_path, {"app/kustomization.yaml": "resources: [link.yaml]\n"})
    (root / "app/link.yaml").symlink_to(tmp_path / "secret.yaml")
    with pytest.raises(RenderError, match="is outside the source root"):
        _build(root, "app")


def test_directory_symlink_out_of_the_root_is_refused(tmp_path: Path, engine: str) -> None:
    """A base reached through a symlinked directory that leaves the root: refused, and the
    view does not carry the symlink, so kustomize could not read it either."""
    write_tree(tmp_path / "elsewhere", {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": OUTSIDE})
    root = write_tree(tmp_path / "root", {"app/kustomization.yaml": "resources: [../base]\n"})
    (root / "base").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RenderError, match="is outside the source root"):
        _build(root, "app")
    with SourceView.of(root) as view, view.overlay(root / "app", "resources: [../base]\n"):
        assert not (view.tree / "base").exists() and not (view.tree / "base").is_symlink()


def test_symlinks_inside_the_root_still_resolve(tmp_path: Path, engine: str) -> None:
    root = write_tree(
        tmp_path / "root", {"app/kustomization.yaml": "resources: [cm.yaml]\n", "real/cm.yaml": CM.format(name="a")}
    )
    (root / "app/cm.yaml").symlink_to("../real/cm.yaml")
    assert "name: a" in _build(root, "app").text


def test_relative_references_resolve_as_in_the_source(tmp_path: Path, engine: str) -> None:
    """The overlay stands beside its directory: `../base`, `../../components` and files of
    sub-directories resolve as in the artifact; the Flux document replaces the file's own."""
    root = write_tree(
        tmp_path / "root",
        {
            "apps/base/kustomization.yaml": "resources: [cm.yaml]\n",
            "apps/base/cm.yaml": CM.format(name="base"),
            "apps/dev/kustomization.yaml": "resources: [../base, sub/extra.yaml]\nnamePrefix: file-\n",
            "apps/dev/sub/extra.yaml": CM.format(name="extra"),
            "top/kustomization.yaml": "resources: [top.yaml]\n",
            "top/top.yaml": CM.format(name="top"),
        },
    )
    request = BuildRequest(ks("apps"), None, root, "apps/dev", {"namePrefix": "ks-"})
    text = build_directory(request, BuildCache.disabled()).text
    assert "name: ks-base" in text and "name: ks-extra" in text and "file-" not in text
    whole = build_directory(BuildRequest(ks("all"), None, root, "", None), BuildCache.disabled()).text
    assert "name: top" in whole and "name: base" in whole  # the root's overlay sits beside the view


def test_one_view_per_source_for_a_whole_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five Kustomizations of one source: the source's tree is mirrored once, not per build;
    each build only adds and removes its overlay."""
    files = {"clusters/dev/flux-system.yaml": FLUX_SYSTEM_SOURCE}
    for app in ("a", "b", "c", "d", "e"):
        files[f"clusters/dev/{app}.yaml"] = flux_kustomization(app, f"./apps/{app}")
        files[f"apps/{app}/cm.yaml"] = CM.format(name=app)
    root = write_tree(tmp_path / "fleet", files)
    mirrored: list[Path] = []
    real = view_module._mirror_tree

    def counted(source: Path, tree: Path) -> None:
        mirrored.append(source)
        real(source, tree)

    monkeypatch.setattr(view_module, "_mirror_tree", counted)
    state = discover(root / "clusters/dev", DiscoverOptions())
    assert {o.id.name for o in state.owners} >= {"a", "b", "c", "d", "e"}
    assert len(mirrored) == 1


def test_overlays_leave_nothing_behind_and_never_touch_the_source(tmp_path: Path, engine: str) -> None:
    root = write_tree(
        tmp_path / "root", {"app/kustomization.yaml": "resources: [cm.yaml]\n", "app/cm.yaml": CM.format(name="x")}
    )
    before = sorted(os.walk(root))
    with SourceView.of(root) as view:
        _build(root, "app", view)
        _build(root, "app", view)
        assert not list(view.tree.rglob(f"{OVERLAY_PREFIX}*"))
        assert not list(view.scratch.glob(f"{OVERLAY_PREFIX}*"))
        scratch = view.scratch
    assert not scratch.exists()
    assert sorted(os.walk(root)) == before


def test_kustomize_errors_name_repository_paths(tmp_path: Path, engine: str) -> None:
    root = write_tree(tmp_path / "root", {"apps/dev/kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(RenderError) as caught:
        _build(root, "apps/dev")
    line = caught.value.one_line()
    assert "apps/dev/missing.yaml" in line
    assert OVERLAY_PREFIX not in line and str(tmp_path) not in line


def test_inputs_shared_by_builds_are_read_and_hashed_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four overlays on one base: the base's files are read (and hashed) once, not per build."""
    from fluxform import limits
    from fluxform.planner.kustomization import closure

    files = {"clusters/dev/flux-system.yaml": FLUX_SYSTEM_SOURCE}
    files["base/kustomization.yaml"] = "resources: [cm.yaml]\n"
    files["base/cm.yaml"] = CM.format(name="shared")
    for app in ("a", "b", "c", "d"):
        files[f"clusters/dev/{app}.yaml"] = flux_kustomization(app, f"./apps/{app}")
        files[f"apps/{app}/kustomization.yaml"] = f"resources: [../../base]\nnamePrefix: {app}-\n"
    root = write_tree(Path(tempfile.mkdtemp()) / "fleet", files)
    reads: list[str] = []
    real = limits.read_limited

    def counted(path: Path, *, what: str = "", limit: int | None = None) -> bytes:
        reads.append(path.name if path.parent.name != "base" else f"base/{path.name}")
        return real(path, what=what, limit=limit)

    monkeypatch.setattr(closure, "read_limited", counted)
    state = discover(root / "clusters/dev", DiscoverOptions(jobs=2))
    assert {o.id.name for o in state.owners} >= {"a", "b", "c", "d"}
    assert reads.count("base/cm.yaml") == 1 and reads.count("base/kustomization.yaml") == 1
