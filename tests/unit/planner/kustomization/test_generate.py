"""The kustomization Flux builds: generated when absent (flux-semantics 1.2), then merged with
the Flux Kustomization spec (1.3). One rule per test; expectations follow fluxcd/pkg
kustomize/kustomize_generator.go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluxform.errors import RenderError
from fluxform.planner.kustomization.generate import find_kustomization_file, prepare_kustomization, spec_changes_build
from tests.support.trees import write_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
HEADER = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


def generated(root: Path, files: dict[str, str]) -> dict[str, Any]:
    prepared = prepare_kustomization(write_tree(root, files), spec=None)
    assert prepared.generated
    return prepared.document


def merged(root: Path, kustomization: str | None, spec: dict[str, Any], extra: dict[str, str] | None = None) -> Any:
    files = dict(extra or {})
    if kustomization is not None:
        files["kustomization.yaml"] = kustomization
    return prepare_kustomization(write_tree(root, files), spec=spec).document


# ---- 1.2 generator -------------------------------------------------------------------------


def test_generator_lists_yaml_recursively_in_go_lexical_walk_order(tmp_path: Path) -> None:
    """1.2: every .yaml/.yml, walked like Go's filepath.Walk: names in byte order (upper case
    before lower case), a directory's contents at the directory's place in that order."""
    files = {name: CM.format(name="x") for name in ["B.yaml", "a/z.yaml", "a-b.yaml", "a.yaml", "c.yml", "e/f/g.yaml"]}
    assert generated(tmp_path, files) == {
        **HEADER,
        "resources": ["./B.yaml", "./a/z.yaml", "./a-b.yaml", "./a.yaml", "./c.yml", "./e/f/g.yaml"],
    }


def test_generator_adds_kustomization_subdirectory_and_does_not_descend(tmp_path: Path) -> None:
    """1.2: a subdirectory holding a kustomization file (any recognised name) is one resource."""
    files = {
        "a.yaml": CM.format(name="a"),
        "b/kustomization.yaml": "resources: [x.yaml]\n",
        "b/x.yaml": CM.format(name="x"),
        "c/Kustomization": "resources: []\n",
        "c/y.yaml": "not: [valid",  # never read: the generator does not descend into c/
        "d/kustomization.yml": "resources: []\n",
    }
    assert generated(tmp_path, files)["resources"] == ["./a.yaml", "./b", "./c", "./d"]


def test_generator_spec_example(tmp_path: Path) -> None:
    """1.2 worked example: a.yaml, b/kustomization.yaml, b/x.yaml, c/d.yml, c/README.md."""
    files = {
        "a.yaml": CM.format(name="a"),
        "b/kustomization.yaml": "resources: [x.yaml]\n",
        "b/x.yaml": CM.format(name="x"),
        "c/d.yml": CM.format(name="d"),
        "c/README.md": "# docs\n",
    }
    assert generated(tmp_path, files)["resources"] == ["./a.yaml", "./b", "./c/d.yml"]


@pytest.mark.parametrize(
    "name",
    ["cm.json", "cm.YAML", "cm.Yml", "cm.yaml.bak", "README.md", "yaml"],
    ids=["json ignored", "upper-case YAML ignored", "mixed-case Yml ignored", "suffix after yaml", "md", "no ext"],
)
def test_generator_takes_only_exact_yaml_extensions(tmp_path: Path, name: str) -> None:
    """1.2: extension exactly `.yaml` or `.yml`, case-sensitive."""
    doc = generated(tmp_path, {name: "{}", "keep.yaml": CM.format(name="k")})
    assert doc["resources"] == ["./keep.yaml"]


def test_generator_includes_hidden_files(tmp_path: Path) -> None:
    """1.2: no hidden-file skipping at this stage (only the source filter removes such files)."""
    doc = generated(tmp_path, {".github/workflows/ci.yaml": CM.format(name="ci"), "a.yaml": CM.format(name="a")})
    assert doc["resources"] == ["./.github/workflows/ci.yaml", "./a.yaml"]


def test_generator_rejects_invalid_yaml_naming_the_file(tmp_path: Path) -> None:
    """1.2: a file that does not parse aborts the build with
    `failed to decode Kubernetes YAML from <path>`."""
    write_tree(tmp_path, {"apps/ok.yaml": CM.format(name="ok"), "apps/sub/bad.yaml": "a: [1\nb: 2\n"})
    with pytest.raises(RenderError, match=r"failed to decode Kubernetes YAML from apps/sub/bad\.yaml") as info:
        prepare_kustomization(tmp_path / "apps", spec=None, root=tmp_path)
    assert info.value.location is not None
    assert info.value.location.path == "apps/sub/bad.yaml"


def test_generator_empty_directory_gets_placeholder_namespace(tmp_path: Path) -> None:
    """1.2: nothing to list -> only `namespace: _placeholder` (builds to nothing)."""
    assert generated(tmp_path, {"README.md": "x"}) == {**HEADER, "namespace": "_placeholder"}


# ---- finding an existing file --------------------------------------------------------------


def test_existing_file_names_checked_in_kustomize_order(tmp_path: Path) -> None:
    """1.2: kustomization.yaml, then kustomization.yml, then Kustomization."""
    write_tree(tmp_path, {"kustomization.yml": "resources: [a.yaml]\n", "Kustomization": "resources: [b.yaml]\n"})
    prepared = prepare_kustomization(tmp_path, spec=None)
    assert (prepared.generated, prepared.existing_file) == (False, "kustomization.yml")
    assert prepared.document["resources"] == ["a.yaml"]


def test_directory_named_like_a_kustomization_file_does_not_count(tmp_path: Path) -> None:
    """1.2: the kustomization must be a file (Flux checks `!fs.IsDir`)."""
    (tmp_path / "kustomization.yaml").mkdir()
    assert find_kustomization_file(tmp_path) is None


def test_existing_file_unknown_fields_are_dropped(tmp_path: Path) -> None:
    """1.3: the file is decoded into kustomize's Kustomization type; unknown fields vanish,
    known ones (any of them) stay."""
    doc = merged(
        tmp_path,
        "resources: [a.yaml]\nsortOptions: {order: legacy}\nfoo: bar\nmetadata: {name: x}\n",
        {},
    )
    assert doc == {**HEADER, "resources": ["a.yaml"], "sortOptions": {"order": "legacy"}, "metadata": {"name": "x"}}


def test_existing_file_keeps_its_own_api_version(tmp_path: Path) -> None:
    doc = merged(tmp_path, "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [a]\n", {})
    assert (doc["apiVersion"], doc["kind"]) == ("kustomize.config.k8s.io/v1alpha1", "Component")


@pytest.mark.parametrize(
    "text",
    ["resources: []\n", "namePrefix: x-\n", ""],
    ids=["empty resources list", "no resources key", "empty file"],
)
def test_existing_file_without_resources_gets_origin_annotations(tmp_path: Path, text: str) -> None:
    """1.2 edge: an existing file with no resources gets `buildMetadata: [originAnnotations]`."""
    assert merged(tmp_path, text, {})["buildMetadata"] == ["originAnnotations"]


def test_existing_file_with_resources_gets_no_build_metadata(tmp_path: Path) -> None:
    assert "buildMetadata" not in merged(tmp_path, "resources: [a.yaml]\n", {})


def test_generated_file_without_resources_gets_no_build_metadata(tmp_path: Path) -> None:
    """1.2: the originAnnotations fallback is for existing files only (generated ones get the
    placeholder namespace instead)."""
    assert "buildMetadata" not in generated(tmp_path, {})


def test_invalid_existing_kustomization_is_a_render_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"kustomization.yaml": "resources: [a\n"})
    with pytest.raises(RenderError, match="invalid kustomization file"):
        prepare_kustomization(tmp_path, spec=None)


# ---- 1.3 spec merge ------------------------------------------------------------------------

FILE_WITH_EVERYTHING = """\
namespace: file-ns
namePrefix: file-
nameSuffix: -file
resources: [cm.yaml]
patches:
- patch: '[{"op": "add", "path": "/data/from", "value": "file"}]'
  target: {kind: ConfigMap}
components: [file-component]
images:
- {name: nginx, newName: file/nginx, newTag: "1.0"}
buildMetadata: [transformerAnnotations]
"""


@pytest.mark.parametrize(
    ("field", "spec_key", "value"),
    [
        ("namespace", "targetNamespace", "ks-ns"),
        ("namePrefix", "namePrefix", "ks-"),
        ("nameSuffix", "nameSuffix", "-ks"),
    ],
    ids=["targetNamespace replaces namespace", "namePrefix replaces", "nameSuffix replaces"],
)
def test_spec_replaces_namespace_prefix_suffix(tmp_path: Path, field: str, spec_key: str, value: str) -> None:
    """1.3: targetNamespace/namePrefix/nameSuffix replace the file's values (no concatenation)."""
    assert merged(tmp_path, FILE_WITH_EVERYTHING, {spec_key: value})[field] == value


def test_spec_sets_namespace_prefix_suffix_on_generated_file(tmp_path: Path) -> None:
    doc = merged(
        tmp_path,
        None,
        {"targetNamespace": "t", "namePrefix": "p-", "nameSuffix": "-s"},
        {"a.yaml": "kind: ConfigMap\nmetadata: {name: a}\n"},
    )
    assert (doc["namespace"], doc["namePrefix"], doc["nameSuffix"]) == ("t", "p-", "-s")


def test_spec_patches_append_after_the_files(tmp_path: Path) -> None:
    """1.3: KS patches come after the file's own patches (so they apply last), with target."""
    spec = {
        "patches": [
            {"patch": "first", "target": {"kind": "ConfigMap", "name": "cm.*", "labelSelector": "a=b"}},
            {"patch": "second"},
        ]
    }
    patches = merged(tmp_path, FILE_WITH_EVERYTHING, spec)["patches"]
    assert [p["patch"] for p in patches] == [
        '[{"op": "add", "path": "/data/from", "value": "file"}]',
        "first",
        "second",
    ]
    assert patches[1]["target"] == {"kind": "ConfigMap", "name": "cm.*", "labelSelector": "a=b"}
    assert "target" not in patches[2]


def test_spec_components_append_after_the_files(tmp_path: Path) -> None:
    """1.3: components are appended, relative to the build directory."""
    doc = merged(tmp_path, FILE_WITH_EVERYTHING, {"components": ["../shared/c1", "c2"]})
    assert doc["components"] == ["file-component", "../shared/c1", "c2"]


# The cases of fluxcd/pkg Test_IsLocalRelativePath, plus the other remote prefixes it lists.
COMPONENT_PATHS = [
    ("foobar.yaml", True),
    ("./foobar.yaml", True),
    ("../up/comp", True),
    ("/foobar.yaml", False),
    ("https://github.com/owner/repo", False),
    ("http://example.com/comp", False),
    ("git@github.com:owner/repo", False),
    ("ssh://git@github.com/owner/repo", False),
    ("github.com/owner/repo", False),
    ("git::https://example.com/repo", False),
    ("gh:owner/repo", False),
]


@pytest.mark.parametrize(("component", "local"), COMPONENT_PATHS, ids=[c[0] for c in COMPONENT_PATHS])
def test_spec_components_must_be_local_and_relative(tmp_path: Path, component: str, local: bool) -> None:
    """1.3: a remote or absolute component fails with `component path '<p>' must be local and relative`."""
    write_tree(tmp_path, {"kustomization.yaml": "resources: []\n"})
    if local:
        assert prepare_kustomization(tmp_path, spec={"components": [component]}).document["components"] == [component]
    else:
        with pytest.raises(RenderError, match=r"component path '.*' must be local and relative"):
            prepare_kustomization(tmp_path, spec={"components": [component]})


def test_ignore_missing_components_skips_only_missing_ones(tmp_path: Path) -> None:
    """1.3: with ignoreMissingComponents a component path that does not exist is dropped."""
    spec = {"components": ["present", "absent"], "ignoreMissingComponents": True}
    doc = merged(tmp_path, "resources: []\n", spec, {"present/kustomization.yaml": "kind: Component\n"})
    assert doc["components"] == ["present"]


def test_missing_components_are_kept_without_ignore_flag(tmp_path: Path) -> None:
    """1.3: without ignoreMissingComponents the path stays, and kustomize reports it."""
    doc = merged(tmp_path, "resources: []\n", {"components": ["absent"]})
    assert doc["components"] == ["absent"]


IMAGE_MERGES = [
    ("newName replaced, tag kept", {"name": "nginx", "newName": "ks/nginx"},
     [{"name": "nginx", "newName": "ks/nginx", "newTag": "1.0"}]),
    ("newTag replaced, newName kept", {"name": "nginx", "newTag": "2.0"},
     [{"name": "nginx", "newName": "file/nginx", "newTag": "2.0"}]),
    ("digest replaces tag: both set together", {"name": "nginx", "digest": "sha256:abc"},
     [{"name": "nginx", "newName": "file/nginx", "digest": "sha256:abc"}]),
    ("name only changes nothing", {"name": "nginx"}, [{"name": "nginx", "newName": "file/nginx", "newTag": "1.0"}]),
    ("other name appended", {"name": "redis", "newTag": "7"},
     [{"name": "nginx", "newName": "file/nginx", "newTag": "1.0"}, {"name": "redis", "newTag": "7"}]),
]  # fmt: skip


@pytest.mark.parametrize(("image", "expected"), [c[1:] for c in IMAGE_MERGES], ids=[c[0] for c in IMAGE_MERGES])
def test_spec_images_merge_by_name(tmp_path: Path, image: dict[str, str], expected: list[dict[str, str]]) -> None:
    """1.3: images merge into the file's entry of the same name: newName replaced if set;
    newTag and digest replaced together if either is set; unknown names appended."""
    assert merged(tmp_path, FILE_WITH_EVERYTHING, {"images": [image]})["images"] == expected


def test_spec_images_with_same_name_merge_into_the_earlier_spec_entry(tmp_path: Path) -> None:
    """1.3: later spec entries with the same name merge into the one appended before."""
    spec = {"images": [{"name": "app", "newTag": "1"}, {"name": "app", "newName": "registry/app"}]}
    doc = merged(tmp_path, "resources: [a.yaml]\n", spec)
    assert doc["images"] == [{"name": "app", "newTag": "1", "newName": "registry/app"}]


def test_spec_build_metadata_replaces(tmp_path: Path) -> None:
    """1.3: a non-empty spec.buildMetadata replaces the file's (and the empty-resources fallback)."""
    assert merged(tmp_path, FILE_WITH_EVERYTHING, {"buildMetadata": ["originAnnotations"]})["buildMetadata"] == [
        "originAnnotations"
    ]
    assert merged(tmp_path / "empty", "resources: []\n", {"buildMetadata": ["transformerAnnotations"]})[
        "buildMetadata"
    ] == ["transformerAnnotations"]


def test_empty_spec_leaves_the_file_as_decoded(tmp_path: Path) -> None:
    doc = merged(tmp_path, FILE_WITH_EVERYTHING, {})
    assert doc["namespace"] == "file-ns"
    assert doc["namePrefix"] == "file-"
    assert doc["components"] == ["file-component"]
    assert doc["images"] == [{"name": "nginx", "newName": "file/nginx", "newTag": "1.0"}]
    assert doc["buildMetadata"] == ["transformerAnnotations"]


def test_prepare_does_not_write_into_the_directory(tmp_path: Path) -> None:
    """Flux writes its merged file into its own copy; we must leave the tree untouched."""
    write_tree(tmp_path, {"a.yaml": CM.format(name="a"), "sub/kustomization.yaml": "resources: []\n"})
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    prepare_kustomization(tmp_path, spec={"namePrefix": "x-", "images": [{"name": "a", "newTag": "1"}]})
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("spec", "changes"),
    [
        (None, False),
        ({"path": "./x", "prune": True, "postBuild": {"substitute": {"a": "b"}}}, False),
        ({"patches": []}, False),
        ({"targetNamespace": "t"}, True),
        ({"namePrefix": ""}, True),  # an empty prefix still replaces the file's
        ({"images": [{"name": "a", "newTag": "1"}]}, True),
    ],
)
def test_spec_changes_build(spec: dict[str, Any] | None, changes: bool) -> None:
    """1.3: only these spec fields are written into the kustomization file."""
    assert spec_changes_build(spec) is changes
