"""Input closure of a kustomize build: every file the build may read (cache key, changed-only).

It may over-approximate (a spurious cache miss costs a build) but must never miss a file a
build reads (a stale cache entry is a wrong plan).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.errors import RenderError
from fluxform.planner.kustomization.closure import input_closure, is_remote
from fluxform.planner.kustomization.generate import prepare_kustomization
from tests.support.trees import write_tree

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


def closure(root: Path, target: str) -> set[str]:
    directory = root / target
    document = prepare_kustomization(directory, spec=None).document
    return {str(p.relative_to(root.resolve())) for p in input_closure(root, directory, document)}


def test_closure_follows_resources_components_patches_and_generators(tmp_path: Path) -> None:
    """Files named by resources (dirs recursively), components, patches[].path and generator
    `files` (both `path` and `key=path` forms) and `envs` are all inputs."""
    root = write_tree(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [cm.yaml]\n",
            "base/cm.yaml": CM,
            "comp/kustomization.yaml": "kind: Component\nresources: [c.yaml]\n",
            "comp/c.yaml": CM,
            "files/app.conf": "x=1\n",
            "files/plain.txt": "y\n",
            "files/other.env": "A=B\n",
            "files/secret.env": "S=T\n",
            "patches/p.yaml": "- op: add\n",
            "unrelated/z.yaml": CM,
            "app/kustomization.yaml": (
                "resources: [../base, local.yaml]\n"
                "components: [../comp]\n"
                "patches:\n- path: ../patches/p.yaml\n"
                "configMapGenerator:\n- name: c\n  files: [key.conf=../files/app.conf, ../files/plain.txt]\n"
                "  envs: [../files/other.env]\n"
                "secretGenerator:\n- name: s\n  envs: [../files/secret.env]\n"
            ),
            "app/local.yaml": CM,
        },
    )
    assert closure(root, "app") == {
        "app/kustomization.yaml",
        "app/local.yaml",
        "base/kustomization.yaml",
        "base/cm.yaml",
        "comp/kustomization.yaml",
        "comp/c.yaml",
        "files/app.conf",
        "files/plain.txt",
        "files/other.env",
        "files/secret.env",
        "patches/p.yaml",
    }


def test_closure_of_generated_directory_is_the_whole_subtree(tmp_path: Path) -> None:
    """1.2: without a kustomization file the generator reads every YAML below (so any new file
    there changes the build): a referenced plain directory contributes its whole subtree."""
    root = write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": "resources: [../plain]\n",
            "plain/a.yaml": CM,
            "plain/deep/er/b.yml": CM,
            "plain/notes.md": "x",
        },
    )
    assert closure(root, "app") == {"app/kustomization.yaml", "plain/a.yaml", "plain/deep/er/b.yml", "plain/notes.md"}


def test_closure_of_generated_build_target_lists_its_yaml(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {"plain/a.yaml": CM, "plain/sub/b.yaml": CM, "plain/k/kustomization.yaml": "resources: [c.yaml]\n",
         "plain/k/c.yaml": CM},
    )  # fmt: skip
    expected = {"plain/a.yaml", "plain/sub/b.yaml", "plain/k/kustomization.yaml", "plain/k/c.yaml"}
    assert closure(root, "plain") == expected


def test_closure_includes_every_file_beside_a_kustomization(tmp_path: Path) -> None:
    """Over-approximation on purpose: files beside a kustomization file are inputs even when
    not named (cheaper than modelling every kustomize field)."""
    root = write_tree(tmp_path, {"app/kustomization.yaml": "resources: []\n", "app/values.txt": "x"})
    assert closure(root, "app") == {"app/kustomization.yaml", "app/values.txt"}


def test_reference_outside_the_root_is_refused(tmp_path: Path) -> None:
    """1.1 step 5: Flux builds on a secure filesystem rooted at the artifact root."""
    root = write_tree(tmp_path / "root", {"app/kustomization.yaml": "resources: [../../outside.yaml]\n"})
    write_tree(tmp_path, {"outside.yaml": CM})
    with pytest.raises(RenderError, match="is outside the source root"):
        closure(root, "app")


def test_closure_handles_cycles(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        {"a/kustomization.yaml": "resources: [../b]\n", "b/kustomization.yaml": "resources: [../a]\n"},
    )
    assert closure(root, "a") == {"a/kustomization.yaml", "b/kustomization.yaml"}


REMOTES = [
    "https://github.com/org/repo//deploy?ref=v1",
    "http://example.com/base",
    "git::https://example.com/repo.git",
    "github.com/org/repo/deploy",
    "git@github.com:org/repo.git",
    "ssh://git@example.com/repo",
    "gh:org/repo",
    "gitlab.com/org/repo",
    "example.com/org/repo?ref=main",
]


@pytest.mark.parametrize("reference", REMOTES)
def test_remote_bases_are_render_errors(tmp_path: Path, reference: str) -> None:
    """Remote bases are refused: fluxform plans offline from the artifact alone."""
    assert is_remote(reference)
    root = write_tree(tmp_path, {"app/kustomization.yaml": f"resources:\n- {reference}\n"})
    with pytest.raises(RenderError, match="is not supported offline"):
        closure(root, "app")


@pytest.mark.parametrize("field", ["components", "bases"])
def test_remote_components_and_bases_are_render_errors(tmp_path: Path, field: str) -> None:
    root = write_tree(tmp_path, {"app/kustomization.yaml": f"{field}:\n- https://example.com/x\n"})
    with pytest.raises(RenderError, match=f"remote {field[:-1]} "):
        closure(root, "app")


@pytest.mark.parametrize("reference", ["../base", "./local.yaml", "github-mirror/base", "sub/repo.gitops"])
def test_local_references_are_not_remote(reference: str) -> None:
    assert not is_remote(reference)
