"""Revisions read from the object database: exact bytes, modes, no symlinks, no work tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxform.errors import SourceError
from fluxform.sources.git import GitRepository
from tests.support.gitrepo import TestRepo


@pytest.fixture
def repo(tmp_path: Path) -> TestRepo:
    repo = TestRepo.create(tmp_path / "repo")
    repo.write("a/one.yaml", "kind: One\n")
    repo.write("a/crlf.txt", "line\r\n")
    repo.write(".gitattributes", "a/subst.txt export-subst\na/skipped.txt export-ignore\n")
    repo.write("a/subst.txt", "$Format:%H$\n")
    repo.write("a/skipped.txt", "kept by Flux\n")
    repo.write("tool.sh", "#!/bin/sh\n")
    (repo.path / "tool.sh").chmod(0o755)
    os.symlink("a/one.yaml", repo.path / "link.yaml")
    repo.commit("first")
    return repo


def test_extract_writes_raw_blobs_without_git_archive_attributes(repo: TestRepo, tmp_path: Path) -> None:
    git = GitRepository.containing(repo.path / "a")
    assert git.top == repo.path
    out = tmp_path / "tree"
    written = git.extract(git.resolve("HEAD"), out)
    assert written == 6
    assert (out / "a/crlf.txt").read_bytes() == b"line\r\n"
    assert (out / "a/subst.txt").read_text() == "$Format:%H$\n"  # export-subst not applied
    assert (out / "a/skipped.txt").is_file()  # export-ignore not applied
    assert os.access(out / "tool.sh", os.X_OK) and not os.access(out / "a/one.yaml", os.X_OK)
    assert not (out / "link.yaml").exists()  # symlinks are not part of a Flux artifact
    assert oct(out.stat().st_mode & 0o777) == "0o700"


def test_changed_files_entries_and_work_tree_untouched(repo: TestRepo) -> None:
    git = GitRepository(repo.path)
    first = git.resolve("HEAD")
    repo.move("a", "b")
    repo.write("b/one.yaml", "kind: Two\n")
    second = repo.commit("rename")
    repo.write("uncommitted.txt", "dirty\n")
    status_before = repo.git("status", "--porcelain")

    assert git.changed_files(first, second) == (  # a rename is a delete plus an add
        "a/crlf.txt", "a/one.yaml", "a/skipped.txt", "a/subst.txt",
        "b/crlf.txt", "b/one.yaml", "b/skipped.txt", "b/subst.txt",
    )  # fmt: skip
    assert {e.path for e in git.entries(first, "a")} == {"a/crlf.txt", "a/one.yaml", "a/skipped.txt", "a/subst.txt"}
    assert git.entries(second, "a") == []
    assert git.tree_id(first) != git.tree_id(second)
    assert repo.git("status", "--porcelain") == status_before


def test_unknown_revision_and_not_a_repository(repo: TestRepo, tmp_path: Path) -> None:
    git = GitRepository(repo.path)
    with pytest.raises(SourceError, match="revision 'nope' is not in this clone") as info:
        git.resolve("nope")
    assert "shallow" not in info.value.one_line()
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="is not inside a git repository"):
        GitRepository.containing(tmp_path / "plain")
