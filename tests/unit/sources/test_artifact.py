"""Source artifact filtering as source-controller does it (flux-semantics 6.1), one rule per test.

Patterns come from every `.sourceignore` in the tree (anchored to its directory) plus
`spec.ignore`; when there are none, the default exclusions apply; VCS files are always
excluded; symlinks are never archived.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxform.decrypt.tmpfs import is_on_tmpfs, private_dir
from fluxform.errors import SourceError
from fluxform.sources import artifact as artifact_module
from fluxform.sources.artifact import IgnoreMatcher, copy_filtered, materialize_artifact
from tests.support.trees import write_tree

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"

# Files the default list excludes (6.1), and files it keeps.
DEFAULT_EXCLUDED = [
    ".git/config", ".gitignore", ".gitmodules", ".gitattributes",
    "logo.png", "docs/photo.jpg", "docs/photo.jpeg", "a.gif", "b.wmv", "c.flv", "bundle.tar.gz", "src.zip",
    ".github/workflows/ci.yaml", ".circleci/config.yml", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml",
    ".drone.yml", "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
    ".goreleaser.yml", "apps/.goreleaser.yml", ".sops.yaml", "apps/deep/.sops.yaml", ".flux.yaml", "apps/.flux.yaml",
]  # fmt: skip
KEPT = ["apps/deploy.yaml", "apps/deep/cm.yaml", "README.md", "apps/notes.txt"]


def artifact_files(src: Path, ignore: str = "") -> set[str]:
    """Relative paths of the regular files in the filtered copy."""
    with materialize_artifact(src, ignore=ignore) as artifact:
        return {
            str(Path(dirpath, name).relative_to(artifact.root))
            for dirpath, _, names in os.walk(artifact.root)
            for name in names
        }


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "fleet", dict.fromkeys(DEFAULT_EXCLUDED + KEPT, MANIFEST))


def test_defaults_apply_without_any_pattern(fleet: Path) -> None:
    """6.1: no .sourceignore and no spec.ignore -> VCS files and the default list are excluded."""
    assert artifact_files(fleet) == set(KEPT)


def test_any_sourceignore_drops_the_defaults(fleet: Path) -> None:
    """6.1: a .sourceignore with any pattern replaces the default list entirely, so .github/,
    .sops.yaml, images... reappear; only VCS files stay excluded."""
    (fleet / ".sourceignore").write_text("# docs are not manifests\n\nREADME.md\n")
    files = artifact_files(fleet)
    vcs = {".git/config", ".gitignore", ".gitmodules", ".gitattributes"}
    assert files == (set(DEFAULT_EXCLUDED) - vcs) | (set(KEPT) - {"README.md"}) | {".sourceignore"}


def test_spec_ignore_alone_drops_the_defaults(fleet: Path) -> None:
    """6.1: spec.ignore counts as collected patterns too."""
    files = artifact_files(fleet, ignore="apps/notes.txt\n")
    assert ".github/workflows/ci.yaml" in files
    assert ".sops.yaml" in files
    assert "apps/notes.txt" not in files
    assert ".git/config" not in files


def test_comment_only_sourceignore_keeps_the_defaults(fleet: Path) -> None:
    """6.1: '#' lines and blank lines are not patterns; an ignore file holding only those
    collects nothing, so the defaults still apply."""
    (fleet / ".sourceignore").write_text("# nothing to ignore\n\n   \n")
    assert artifact_files(fleet) == set(KEPT) | {".sourceignore"}


def test_subdirectory_sourceignore_is_anchored_to_its_directory(tmp_path: Path) -> None:
    """6.1: patterns of apps/.sourceignore apply below apps/ only; a leading '/' anchors to apps/."""
    src = write_tree(
        tmp_path / "src",
        {
            "x.yaml": MANIFEST,
            "only.yaml": MANIFEST,
            "apps/.sourceignore": "x.yaml\n/only.yaml\n",
            "apps/x.yaml": MANIFEST,
            "apps/deep/x.yaml": MANIFEST,
            "apps/only.yaml": MANIFEST,
            "apps/deep/only.yaml": MANIFEST,
        },
    )
    assert artifact_files(src) == {"x.yaml", "only.yaml", "apps/.sourceignore", "apps/deep/only.yaml"}


def test_negation_re_includes(tmp_path: Path) -> None:
    """6.1: gitignore '!' re-includes; the last matching pattern wins."""
    src = write_tree(
        tmp_path / "src",
        {".sourceignore": "*.yaml\n!keep.yaml\n", "keep.yaml": MANIFEST, "drop.yaml": MANIFEST, "sub/keep.yaml": ""},
    )
    assert artifact_files(src) == {".sourceignore", "keep.yaml", "sub/keep.yaml"}


def test_spec_ignore_comes_after_sourceignore(tmp_path: Path) -> None:
    """6.1: spec.ignore lines are appended after the .sourceignore patterns, so they win."""
    src = write_tree(tmp_path / "src", {".sourceignore": "*.yaml\n", "a.yaml": MANIFEST, "b.yaml": MANIFEST})
    assert artifact_files(src, ignore="!a.yaml\n") == {".sourceignore", "a.yaml"}


def test_directory_pattern_excludes_everything_below(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {".sourceignore": "scratch/\n", "scratch/a/b.yaml": "", "keep.yaml": ""})
    assert artifact_files(src) == {".sourceignore", "keep.yaml"}


def test_vcs_files_stay_excluded_beside_collected_patterns(tmp_path: Path) -> None:
    """6.1: with collected patterns the defaults go, but the VCS exclusions stay."""
    src = write_tree(tmp_path / "src", {".sourceignore": "*.md\n", ".git/HEAD": "", ".gitignore": "", "a.yaml": ""})
    assert artifact_files(src) == {".sourceignore", "a.yaml"}


def test_symlinks_are_not_copied(tmp_path: Path) -> None:
    """6.1/6.2: only regular files and directories are archived; file and directory symlinks
    (even ones pointing inside the tree) are skipped."""
    src = write_tree(tmp_path / "src", {"real/a.yaml": MANIFEST})
    outside = write_tree(tmp_path / "outside", {"secret.yaml": MANIFEST})
    (src / "link.yaml").symlink_to(src / "real/a.yaml")
    (src / "linkdir").symlink_to(src / "real")
    (src / "escape").symlink_to(outside)
    assert artifact_files(src) == {"real/a.yaml"}


def _digest(src: Path, dest: Path) -> str:
    return copy_filtered(src, dest, IgnoreMatcher.for_tree(src))


def test_digest_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    """Same tree -> same digest; a changed byte, a rename or a new file -> another digest;
    a change to an excluded file -> the same digest (it is not in the artifact)."""
    src = write_tree(tmp_path / "src", {"a.yaml": MANIFEST, "sub/b.yaml": MANIFEST, "logo.png": "x"})
    first = _digest(src, tmp_path / "d1")
    assert _digest(src, tmp_path / "d2") == first
    (src / "logo.png").write_text("changed image")
    assert _digest(src, tmp_path / "d3") == first
    (src / "sub/b.yaml").write_text(MANIFEST + "data: {}\n")
    changed = _digest(src, tmp_path / "d4")
    assert changed != first
    (src / "sub/b.yaml").rename(src / "sub/c.yaml")
    renamed = _digest(src, tmp_path / "d5")
    assert renamed not in (first, changed)
    (src / "new.yaml").write_text("")
    assert _digest(src, tmp_path / "d6") not in (first, changed, renamed)


def test_digest_matches_materialized_artifact(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.yaml": MANIFEST})
    with materialize_artifact(src) as one, materialize_artifact(src) as two:
        assert one.digest == two.digest
        assert one.digest.startswith("sha256:")
        assert one.root != two.root


def test_artifact_copy_is_private_and_removed_on_exit(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.yaml": MANIFEST})
    with materialize_artifact(src) as artifact:
        assert (artifact.root / "a.yaml").read_text() == MANIFEST
        assert artifact.origin == src.resolve()
        assert artifact.root.parent.stat().st_mode & 0o777 == 0o700
        copy_root = artifact.root
    assert not copy_root.exists()
    assert (src / "a.yaml").exists()


def test_missing_source_directory_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"), materialize_artifact(tmp_path / "nope"):
        pass


@pytest.mark.parametrize("sourceignore", ["", "!.fluxform/\n!**/*.json\n"])
def test_fluxforms_own_directory_is_never_part_of_the_artifact(tmp_path: Path, sourceignore: str) -> None:
    """The default local state, its lock and apply journals live in `.fluxform/` beside the
    fleet: were they in the artifact, taking the state lock would change the source digest."""
    write_tree(
        tmp_path,
        {
            "clusters/staging/cm.yaml": MANIFEST,
            "clusters/staging/.fluxform/kubeapi.state.json": "{}",
            ".fluxform/prod.state.json.lock": "{}",
            **({".sourceignore": sourceignore} if sourceignore else {}),
        },
    )
    files = artifact_files(tmp_path)
    assert "clusters/staging/cm.yaml" in files
    assert not {f for f in files if ".fluxform" in f}
    with materialize_artifact(tmp_path) as before:
        (tmp_path / "clusters/staging/.fluxform/kubeapi.state.json.lock").write_text('{"id": "x"}')
        with materialize_artifact(tmp_path) as after:
            assert before.digest == after.digest


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_copy_is_in_memory_when_a_tmpfs_is_there(tmp_path: Path) -> None:
    """Where the view of a source lives (private_dir), the copy lives too: tmpfs when the
    machine has one, else hard links in the temp dir."""
    src = write_tree(tmp_path / "src", {"a.yaml": MANIFEST, "apps/b.yaml": MANIFEST})
    with private_dir(require_tmpfs=False) as probe:
        memory = is_on_tmpfs(probe)
    with materialize_artifact(src) as artifact:
        assert is_on_tmpfs(artifact.root) == memory
        assert _tree(artifact.root) == _tree(src)


def test_a_source_past_the_memory_limit_is_copied_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_tree(tmp_path / "src", {"a.yaml": MANIFEST, "apps/b.yaml": MANIFEST * 4})
    with materialize_artifact(src) as whole:
        expected = whole.digest
    monkeypatch.setattr(artifact_module, "MEMORY_COPY_LIMIT", len(MANIFEST) * 2)
    with materialize_artifact(src) as artifact:
        assert not is_on_tmpfs(artifact.root)
        assert artifact.digest == expected and _tree(artifact.root) == _tree(src)
        assert artifact.root.parent.stat().st_mode & 0o777 == 0o700
        copy_root = artifact.root
    assert not copy_root.exists()


def test_copy_limit_counts_only_copied_bytes(tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.yaml": MANIFEST, "b.yaml": MANIFEST})
    linked = copy_filtered(src, tmp_path / "linked", IgnoreMatcher.for_tree(src), copy_limit=1)  # same filesystem
    assert (tmp_path / "linked" / "a.yaml").stat().st_ino == (src / "a.yaml").stat().st_ino
    with private_dir(require_tmpfs=False) as elsewhere:
        if is_on_tmpfs(elsewhere):  # another filesystem: copies, and the limit applies
            with pytest.raises(artifact_module.CopyTooLarge):
                copy_filtered(src, elsewhere / "copy", IgnoreMatcher.for_tree(src), copy_limit=len(MANIFEST))
    assert linked == copy_filtered(src, tmp_path / "again", IgnoreMatcher.for_tree(src))
