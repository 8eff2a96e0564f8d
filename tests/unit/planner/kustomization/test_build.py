"""Building one Flux Kustomization with the real kustomize (flux-semantics 1.1-1.3).

Each build runs kustomize (~150 ms), so builds are shared by the tests that check different
rules on the same result.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.objects import SourceLocation
from fluxform.paths import secure_join
from fluxform.planner.kustomization.build import BuildOutput, BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from tests.support.ids import ks
from tests.support.trees import write_tree

OWNER = ks("apps")
ORIGIN = SourceLocation("clusters/dev/apps.yaml")


def cm(name: str, **data: str) -> str:
    body = "".join(f"  {k}: {v!r}\n" for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n" + (f"data:\n{body}" if body else "")


def snapshot(root: Path) -> dict[str, str]:
    """Every path below root with a digest of its content ('dir' for directories)."""
    return {
        str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def objects(output: BuildOutput) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in yamlio.load_all(output.text)}


def build(root: Path, path: str, spec: dict[str, object] | None, cache: BuildCache | None = None) -> BuildOutput:
    request = BuildRequest(owner=OWNER, origin=ORIGIN, root=root, path=path, spec=spec)
    return build_directory(request, cache or BuildCache.disabled())


FLEET = {
    "base/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: base-\n",
    "base/cm.yaml": cm("cm", k="v"),
    "apps/dev/kustomization.yaml": "resources: [../../base]\nnamePrefix: file-\nnamespace: file-ns\n",
    "plain/a.yaml": cm("a"),
    "plain/sub/b.yml": cm("b"),
    "plain/notes.md": "not a manifest\n",
}


@dataclass(frozen=True)
class Built:
    root: Path
    before: dict[str, str]
    overlay: BuildOutput
    generated: BuildOutput
    temp_left: list[Path]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two real builds of one artifact tree, with the temp dir redirected so leftovers show."""
    root = write_tree(tmp_path_factory.mktemp("artifact"), FLEET)
    temp = tmp_path_factory.mktemp("tmp")
    before = snapshot(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(temp))
        overlay = build(root, "apps/dev", {"namePrefix": "ks-", "targetNamespace": "ks-ns"})
        generated = build(root, "./plain", {"targetNamespace": "gen"})
    yield Built(root, before, overlay, generated, sorted(temp.iterdir()))


def test_parent_base_reference_resolves(built: Built) -> None:
    """1.1 step 5: load restrictions none, so `../../base` is loaded from the artifact."""
    assert list(objects(built.overlay)) == ["ks-base-cm"]
    assert objects(built.overlay)["ks-base-cm"]["data"] == {"k": "v"}


def test_name_prefix_replaces_the_files_prefix(built: Built) -> None:
    """1.3: KS namePrefix `ks-` replaces the overlay's `file-` (not `ks-file-base-cm`); the
    base's own prefix is the base's business and stays."""
    names = list(objects(built.overlay))
    assert names == ["ks-base-cm"]
    assert not any("file-" in name for name in names)


def test_target_namespace_is_applied(built: Built) -> None:
    """1.3: targetNamespace overrides the file's `namespace:` on every namespaced object."""
    assert objects(built.overlay)["ks-base-cm"]["metadata"]["namespace"] == "ks-ns"


def test_generated_kustomization_builds_every_yaml(built: Built) -> None:
    """1.2: no kustomization file -> every .yaml/.yml below the path, merged with the spec."""
    objs = objects(built.generated)
    assert sorted(objs) == ["a", "b"]
    assert {o["metadata"]["namespace"] for o in objs.values()} == {"gen"}


def test_artifact_tree_is_never_modified(built: Built) -> None:
    """Flux writes its kustomization.yaml into its own copy; ours goes into a private overlay,
    so the artifact (shared by parallel builds) keeps every byte and gains no file."""
    assert snapshot(built.root) == built.before


def test_private_overlay_and_view_are_removed_after_build(built: Built) -> None:
    assert built.temp_left == []


def test_build_reports_its_input_closure(built: Built) -> None:
    rel = sorted(str(p.relative_to(built.root.resolve())) for p in built.overlay.files)
    assert rel == ["apps/dev/kustomization.yaml", "base/cm.yaml", "base/kustomization.yaml"]


SECURE_JOINS = [
    ("plain path", "apps/dev", "apps/dev"),
    ("leading ./", "./apps/dev", "apps/dev"),
    ("absolute means artifact root", "/apps/dev", "apps/dev"),
    (".. clamped at the root", "../../apps/dev", "apps/dev"),
    (".. inside the path", "apps/x/../dev", "apps/dev"),
    (".. past the root midway", "apps/../../../apps/dev", "apps/dev"),
    ("empty is the root", "", ""),
    ("dot is the root", ".", ""),
]


@pytest.mark.parametrize(("path", "expected"), [c[1:] for c in SECURE_JOINS], ids=[c[0] for c in SECURE_JOINS])
def test_secure_join_clamps_to_the_root(tmp_path: Path, path: str, expected: str) -> None:
    """1.1 step 2: securejoin never leaves the root: '..' is clamped, not an error."""
    assert secure_join(tmp_path, path) == tmp_path / expected


def test_build_with_escaping_path_builds_inside_the_root(built: Built) -> None:
    """1.1 step 2: `../../apps/dev` builds `<root>/apps/dev` (same output)."""
    escaped = build(built.root, "../../apps/dev", {"namePrefix": "ks-", "targetNamespace": "ks-ns"})
    assert escaped.text == built.overlay.text


def test_missing_path_is_a_render_error_naming_the_kustomization(tmp_path: Path) -> None:
    """1.1 step 2: a missing directory -> `kustomization path not found`."""
    with pytest.raises(RenderError, match="kustomization path not found: apps/nope") as info:
        build(tmp_path, "apps/nope", None)
    assert info.value.subject == OWNER
    assert info.value.location == ORIGIN


def test_kustomize_error_surfaces_with_the_kustomization_named(tmp_path: Path) -> None:
    """kustomize's own message reaches the user, with the Flux Kustomization and its file,
    and without our private mirror's temp path; the tree is left as it was."""
    root = write_tree(tmp_path / "root", {"apps/kustomization.yaml": "resources: [missing.yaml]\n"})
    before = snapshot(root)
    with pytest.raises(RenderError) as info:
        build(root, "apps", None)
    line = info.value.one_line()
    assert line.startswith("Kustomization/flux-system/apps (clusters/dev/apps.yaml): kustomize build failed")
    assert "missing.yaml" in line
    assert "fluxform-build-" not in line
    assert snapshot(root) == before


def test_generator_error_names_the_kustomization(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "root", {"apps/bad.yaml": "a: [1\n"})
    with pytest.raises(RenderError, match=r"failed to decode Kubernetes YAML from apps/bad\.yaml") as info:
        build(root, "apps", None)
    assert info.value.subject == OWNER


def test_spec_merge_reaches_kustomize(tmp_path: Path) -> None:
    """1.3 end to end with real kustomize: the KS patch runs after the file's patch (appended),
    the KS component after the file's, and images merge by name into the file's entry."""
    root = write_tree(
        tmp_path / "root",
        {
            "app/kustomization.yaml": (
                "resources: [deploy.yaml]\n"
                "components: [../comp-file]\n"
                "patches:\n"
                '- patch: \'[{"op": "add", "path": "/metadata/labels/order", "value": "file"}]\'\n'
                "  target: {kind: Deployment}\n"
                "images:\n"
                "- {name: nginx, newName: file/nginx, newTag: '1.0'}\n"
            ),
            "app/deploy.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {order: none}\n"
                "spec:\n  template:\n    spec:\n      containers:\n      - {name: web, image: nginx}\n"
            ),
            "comp-file/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- pairs: {comp: file}\n"
            ),
            "comp-ks/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n- pairs: {comp: ks}\n"
            ),
        },
    )
    spec: dict[str, object] = {
        "patches": [
            {
                "patch": '[{"op": "replace", "path": "/metadata/labels/order", "value": "ks"}]',
                "target": {"kind": "Deployment"},
            }
        ],
        "components": ["../comp-ks"],
        "images": [{"name": "nginx", "newTag": "2.0"}],
    }
    web = objects(build(root, "app", spec))["web"]
    assert web["metadata"]["labels"] == {"order": "ks", "comp": "ks"}
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "file/nginx:2.0"


def test_build_cache_hits_on_identical_build_and_misses_after_an_edit(tmp_path: Path) -> None:
    """The cache key covers every file of the input closure: same inputs -> hit (no kustomize
    run, same text); a file outside the closure changing -> still a hit; a file inside it
    changing -> miss and the new content."""
    root = write_tree(tmp_path / "root", {**FLEET, "unrelated/x.yaml": cm("x")})
    cache = BuildCache(tmp_path / "c")
    first = build(root, "apps/dev", None, cache)
    second = build(root, "apps/dev", None, cache)
    assert (first.cached, second.cached) == (False, True)
    assert second.text == first.text
    (root / "unrelated/x.yaml").write_text(cm("x", changed="yes"))
    assert build(root, "apps/dev", None, cache).cached is True
    (root / "base/cm.yaml").write_text(cm("cm", k="edited"))
    third = build(root, "apps/dev", None, cache)
    assert third.cached is False
    assert objects(third)["file-base-cm"]["data"] == {"k": "edited"}
    assert (cache.hits, cache.misses) == (2, 2)


def test_build_cache_key_includes_the_spec(tmp_path: Path) -> None:
    """A different Flux spec is a different kustomization document, hence a miss."""
    root = write_tree(tmp_path / "root", FLEET)
    cache = BuildCache(tmp_path / "c")
    build(root, "base", None, cache)
    other = build(root, "base", {"namePrefix": "p-"}, cache)
    assert other.cached is False
    assert list(objects(other)) == ["p-cm"]
