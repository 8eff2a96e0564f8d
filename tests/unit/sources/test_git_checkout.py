"""Revisions written from git on demand: `RevisionListing`, `LazyCheckout` and the artifact
filter. The property pinned: a `LazyCheckout` of a source root filtered by `artifact_filter`
holds, after `want_all()`, exactly the files (bytes, modes) and directories `copy_filtered`
makes of the same revision extracted on disk, whatever the tree and its `.sourceignore` rules.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fluxform.sources.artifact import IGNORE_FILE, IgnoreMatcher, copy_filtered
from fluxform.sources.git import GitRepository
from fluxform.sources.git_checkout import LazyCheckout, RevisionListing, artifact_filter
from fluxform.tool import find_executable, run_tool
from tests.support.gitrepo import TestRepo


@pytest.fixture(autouse=True, scope="module")
def _umask_022() -> Iterator[None]:
    """File modes below are the blob modes as written with the usual umask."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@dataclass(frozen=True)
class Snapshot:
    """What a directory holds: files (relative path -> bytes, permission bits) and directories."""

    files: dict[str, tuple[bytes, int]]
    dirs: frozenset[str]


def snapshot(root: Path) -> Snapshot:
    files: dict[str, tuple[bytes, int]] = {}
    dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        dirs.update(prefix + d for d in dirnames)
        for name in filenames:
            path = Path(dirpath, name)
            assert not path.is_symlink(), path
            files[prefix + name] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return Snapshot(files, frozenset(dirs))


def parents(paths: set[str]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        parts = path.split("/")[:-1]
        found.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return found


def extracted(repo: Path, commit: str, prefix: str, scratch: Path) -> Path:
    """The source root `prefix` of the revision, every file of it written by `GitRepository.extract`."""
    GitRepository(repo).extract(commit, scratch / "extracted")
    return scratch / "extracted" / prefix if prefix else scratch / "extracted"


def walked_artifact(source: Path, scratch: Path) -> Snapshot:
    """The walk-based artifact of a directory on disk, as plans of real directories make it."""
    dest = scratch / "walked"
    dest.mkdir()
    copy_filtered(source, dest, IgnoreMatcher.for_tree(source))
    return snapshot(dest)


def reference_artifact(repo: Path, commit: str, prefix: str, scratch: Path) -> Snapshot:
    return walked_artifact(extracted(repo, commit, prefix, scratch), scratch)


def lazy_artifact(repo: Path, commit: str, prefix: str, root: Path, *, skeleton: bool = False) -> LazyCheckout:
    git = GitRepository(repo)
    listing = RevisionListing.read(git, commit)
    keep, _ = artifact_filter(git, listing, prefix)
    return LazyCheckout(git, listing, root, prefix=prefix, keep=keep, skeleton=skeleton)


def blob(repo: TestRepo, commit: str, path: str) -> bytes:
    """A blob's bytes straight from `git cat-file blob`, independent of the code under test."""
    git = find_executable("git")
    assert git is not None
    return run_tool([git, "cat-file", "blob", f"{commit}:{path}"], tool="git", cwd=repo.path).stdout


def write_files(root: Path, files: dict[str, tuple[bytes, bool]]) -> None:
    for rel, (content, executable) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o755 if executable else 0o644)


# --- the property: lazy filtered checkout == extract + copy_filtered --------------------------

DIR_NAMES = ("app", "app-1", "base", "x", ".github", "img", "keep")
DIR = st.sampled_from(DIR_NAMES)
FILE_NAMES = ("a.yaml", "b.yml", "logo.png", ".sops.yaml", ".flux.yaml", "notes.txt", "ci.yml", "app", "x", "keep")
TARGETS = (*DIR_NAMES, "a.yaml", "logo.png", ".sops.yaml", "notes.txt", "*.yaml", "*.png", "*.yml", "app*", "*")
FORMS = ("{t}", "{t}/", "/{t}", "/{t}/", "**/{t}", "**/{t}/", "{d}/{t}", "/{d}/{t}", "{d}/**", "**/{d}/{t}")
#: Negations mostly name files, so some re-include a file inside an excluded directory.
NEGATED = ("a.yaml", "*.yaml", "logo.png", "x", "keep", "app", "*.yml")
NEGATED_FORMS = ("{t}", "**/{t}", "{d}/{t}", "{d}/*/{t}", "{d}/")
#: Outside the source root `fleet`: must change nothing in its artifact (a root rule dropping everything).
OUTSIDE_FLEET = {
    IGNORE_FILE: (b"*\n", False),
    "fleet.yaml": (b"kind: Outside\n", False),
    "fleet-1/a.yaml": (b"kind: Outside\n", False),
}


@st.composite
def pattern_lines(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 7)) == 0:
            lines.append(draw(st.sampled_from(("# a comment", "", "   "))))
            continue
        if draw(st.integers(0, 2)) == 0:
            line = "!" + draw(st.sampled_from(NEGATED_FORMS)).format(t=draw(st.sampled_from(NEGATED)), d=draw(DIR))
        else:
            line = draw(st.sampled_from(FORMS)).format(t=draw(st.sampled_from(TARGETS)), d=draw(DIR))
        lines.append(line)
    if draw(st.booleans()):  # exclude a directory, then re-include files inside it
        excluded = draw(st.sampled_from(("{d}/", "**/{d}/", "{d}/**", "{d}"))).format(d=draw(DIR))
        lines += [excluded, "!" + draw(st.sampled_from(NEGATED))]
    return draw(st.sampled_from(("\n", "\r\n"))).join(lines) + "\n"


FILE_ENTRIES = st.lists(
    st.tuples(st.lists(st.sampled_from(DIR_NAMES), max_size=3), st.sampled_from(FILE_NAMES), st.booleans()),
    min_size=3,
    max_size=30,
)
IGNORE_ENTRIES = st.lists(st.tuples(st.lists(DIR, max_size=2), pattern_lines()), max_size=4)


def build_tree(
    files: list[tuple[list[str], str, bool]], ignores: list[tuple[list[str], str]]
) -> dict[str, tuple[bytes, bool]]:
    """A tree of generated paths, dropping any that would make a path both a file and a directory."""
    tree: dict[str, tuple[bytes, bool]] = {}

    def fits(path: str) -> bool:
        clash_below = any(other.startswith(path + "/") for other in tree)
        return path not in tree and not clash_below and not (parents({path}) & set(tree))

    for dirs, name, executable in files:
        path = "/".join([*dirs, name])
        if fits(path):
            tree[path] = (f"{path}\n".encode(), executable)
    for dirs, text in ignores:
        path = "/".join([*dirs, IGNORE_FILE])
        if fits(path):
            tree[path] = (text.encode(), False)
    return tree


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # the default exclusions: no .sourceignore anywhere
    files=[
        ([".github"], "ci.yml", False),
        (["app"], ".sops.yaml", False),
        ([], "logo.png", False),
        (["img"], "logo.png", False),
        (["app", "x"], ".flux.yaml", False),
        (["app"], "a.yaml", True),
    ],
    ignores=[],
    prefix="fleet",
    pick=0,
)
@example(  # negations: walked file by file, files re-included inside excluded directories
    files=[
        (["app"], "a.yaml", False),
        (["app", "x"], "a.yaml", True),
        (["app"], "logo.png", False),
        (["base"], "b.yml", False),
        (["base"], "notes.txt", False),
        (["keep"], "app", False),
    ],
    ignores=[([], "app/\n!**/a.yaml\n"), (["base"], "*\r\n!b.yml\r\n"), (["keep"], "!app/\n")],
    prefix="",
    pick=1,
)
@example(  # directories re-included inside an excluded one, and from a deeper .sourceignore
    files=[
        (["x"], "a.yaml", False),
        (["x", "app"], "a.yaml", False),
        (["keep", "x"], "notes.txt", False),
        (["app"], "x", False),
        (["keep", "app"], "x", False),
    ],
    ignores=[([], "x/\n!app/\n/keep/app\n"), (["keep"], "!x/\n")],
    prefix="fleet",
    pick=4,
)
@given(files=FILE_ENTRIES, ignores=IGNORE_ENTRIES, prefix=st.sampled_from(("", "fleet")), pick=st.integers(0, 999))
def test_lazy_artifact_equals_copy_filtered_of_the_extracted_tree(
    files: list[tuple[list[str], str, bool]], ignores: list[tuple[list[str], str]], prefix: str, pick: int
) -> None:
    tree = build_tree(files, ignores)
    with tempfile.TemporaryDirectory(prefix="fluxform-checkout-") as tmp:
        scratch = Path(tmp)
        repo = TestRepo.create(scratch / "repo")
        if prefix:
            write_files(repo.path, OUTSIDE_FLEET)
        write_files(repo.path / prefix if prefix else repo.path, tree)
        commit = repo.commit("generated")
        source = extracted(repo.path, commit, prefix, scratch)
        expected = walked_artifact(source, scratch)

        checkout = lazy_artifact(repo.path, commit, prefix, scratch / "lazy")
        assert checkout.want_all() == len(expected.files)
        actual = snapshot(checkout.root)
        assert sorted(actual.files) == sorted(expected.files)
        assert actual.files == expected.files  # bytes and permission bits too
        assert actual.dirs == expected.dirs
        assert checkout.written == set(expected.files)
        assert checkout.files_below("") == sorted(expected.files)
        assert {p for p in tree if checkout.has_file(p)} == set(expected.files)

        unfiltered = LazyCheckout(checkout.repo, checkout.listing, scratch / "unfiltered", prefix=prefix)
        assert unfiltered.want_all() == len(tree)
        assert snapshot(unfiltered.root) == snapshot(source)

        # Any directory asked for alone holds exactly the artifact's files below it.
        directories = sorted(parents(set(tree)))
        if directories:
            directory = directories[pick % len(directories)]
            part = lazy_artifact(repo.path, commit, prefix, scratch / "part")
            part.want([directory])
            below = {p for p in expected.files if p.startswith(directory + "/")}
            assert part.written == below
            assert part.complete(directory)
            on_disk = snapshot(part.root)
            assert set(on_disk.files) == below
            assert on_disk.dirs == parents(below)


# --- a fixed repository for the table-driven tests ---------------------------------------------

FLEET: dict[str, tuple[bytes, bool]] = {
    "app/deploy.yaml": (b"kind: Deployment\n", False),
    "app/x/cm.yaml": (b"kind: ConfigMap\n", False),
    "app/logo.png": (b"\x89PNG\r\n\x1a\n\x00\x00", False),
    "app/.sops.yaml": (b"creation_rules: []\n", False),
    "app-1/deploy.yaml": (b"kind: Deployment\nname: app-1\n", False),
    "app.yaml": (b"kind: Kustomization\n", False),
    "app0/z.yaml": (b"kind: Z\n", False),
    "app_b/c.yaml": (b"kind: C\n", False),
    ".github/workflows/ci.yml": (b"on: push\n", False),
    "img/logo.png": (b"\x89PNG\r\n\x1a\n", False),
    "nested/deep/a/b.yaml": (b"kind: B\n", False),
    "data/binary.bin": (b"\x00\xff\xfe\r\n\x00", False),
    "data/empty.txt": (b"", False),
    "data/header.txt": (b"0000000000000000000000000000000000000000 blob 3\nabc", False),
    "data/crlf.txt": (b"a\r\nb\r\n", False),
    ".gitattributes": (b"data/crlf.txt text eol=lf\n", False),
    "tool.sh": (b"#!/bin/sh\necho hi\n", True),
}
#: What git stores for data/crlf.txt (its attributes normalise line endings on commit).
CRLF_BLOB = b"a\nb\n"
#: Files the default exclusions drop (no .sourceignore in FLEET).
DEFAULT_DROPPED = {"app/logo.png", "app/.sops.yaml", ".github/workflows/ci.yml", "img/logo.png", ".gitattributes"}
ALL = set(FLEET)
KEPT = ALL - DEFAULT_DROPPED
#: Beside the source root `fleet`: names sharing its prefix, and a rule that would drop everything.
BESIDE = {
    IGNORE_FILE: (b"*\n", False),
    "fleet.yaml": (b"kind: Beside\n", False),
    "fleet-1/app/deploy.yaml": (b"kind: Beside\n", False),
}


@dataclass(frozen=True)
class Fleet:
    repo: TestRepo
    git: GitRepository
    commit: str
    prefix: str
    listing: RevisionListing

    def plain(self, root: Path, *, skeleton: bool = False) -> LazyCheckout:
        return LazyCheckout(self.git, self.listing, root, prefix=self.prefix, skeleton=skeleton)

    def artifact(self, root: Path, *, skeleton: bool = False) -> LazyCheckout:
        return lazy_artifact(self.repo.path, self.commit, self.prefix, root, skeleton=skeleton)

    def full(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path


def make_fleet(path: Path, prefix: str, extra: dict[str, tuple[bytes, bool]] | None = None) -> Fleet:
    repo = TestRepo.create(path)
    if prefix:
        write_files(repo.path, BESIDE)
    write_files(repo.path / prefix if prefix else repo.path, {**FLEET, **(extra or {})})
    commit = repo.commit("fleet")
    git = GitRepository(repo.path)
    return Fleet(repo, git, commit, prefix, RevisionListing.read(git, commit))


PREFIXES, PREFIX_IDS = ["", "fleet"], ["repo-root", "subdirectory"]


@pytest.fixture(scope="module", params=PREFIXES, ids=PREFIX_IDS)
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """Shared by the tests of this module: none may commit to it (see `own_fleet`)."""
    return make_fleet(tmp_path_factory.mktemp("fleet") / "repo", request.param)


@pytest.fixture(params=PREFIXES, ids=PREFIX_IDS)
def own_fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Fleet:
    """A repository the test may commit to."""
    return make_fleet(tmp_path / "repo", request.param)


@pytest.fixture(scope="module")
def top_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("top") / "repo", "")


WANT_CASES = [
    # id, paths asked for, files written without a filter, files written as an artifact
    ("file", ["app/deploy.yaml"], {"app/deploy.yaml"}, {"app/deploy.yaml"}),
    (
        "directory-recursive",
        ["app"],
        {"app/deploy.yaml", "app/x/cm.yaml", "app/logo.png", "app/.sops.yaml"},
        {"app/deploy.yaml", "app/x/cm.yaml"},
    ),
    ("directory-trailing-slash", ["app/x/"], {"app/x/cm.yaml"}, {"app/x/cm.yaml"}),
    ("nested-directory", ["nested/deep"], {"nested/deep/a/b.yaml"}, {"nested/deep/a/b.yaml"}),
    ("everything", [""], ALL, KEPT),
    ("absent-paths", ["missing.yaml", "app/nope", "ap", "app/x/cm", "nested/deep/a/b"], set(), set()),
    ("ignored-file", ["app/logo.png", ".gitattributes"], {"app/logo.png", ".gitattributes"}, set()),
    ("ignored-directory", [".github"], {".github/workflows/ci.yml"}, set()),
    (
        "names-sharing-a-prefix",
        ["app.yaml", "app-1"],
        {"app.yaml", "app-1/deploy.yaml"},
        {"app.yaml", "app-1/deploy.yaml"},
    ),
    (
        "overlapping-requests",
        ["app/x/cm.yaml", "app/x", "app/x/", "app/x/cm.yaml"],
        {"app/x/cm.yaml"},
        {"app/x/cm.yaml"},
    ),
]


@pytest.mark.parametrize(
    ("paths", "plain_expected", "artifact_expected"), [c[1:] for c in WANT_CASES], ids=[c[0] for c in WANT_CASES]
)
def test_want_writes_what_the_paths_name(
    fleet: Fleet, tmp_path: Path, paths: list[str], plain_expected: set[str], artifact_expected: set[str]
) -> None:
    for checkout, expected in [
        (fleet.plain(tmp_path / "plain"), plain_expected),
        (fleet.artifact(tmp_path / "artifact"), artifact_expected),
    ]:
        assert checkout.want(paths) == len(expected)
        assert checkout.written == expected
        assert set(snapshot(checkout.root).files) == expected


def test_complete_before_and_after_want(fleet: Fleet, tmp_path: Path) -> None:
    plain, artifact = fleet.plain(tmp_path / "plain"), fleet.artifact(tmp_path / "artifact")
    for checkout in (plain, artifact):
        assert not checkout.complete("app") and not checkout.complete("")
        assert checkout.complete("missing")  # nothing below it to write
    assert not plain.complete(".github")
    assert artifact.complete(".github")  # the filter keeps nothing below it
    for checkout in (plain, artifact):
        checkout.want(["app"])
        assert checkout.complete("app") and checkout.complete("app/x")
        assert not checkout.complete("") and not checkout.complete("app-1")
        checkout.want_all()
        assert checkout.complete("")


def test_writing_twice_is_a_no_op(fleet: Fleet, tmp_path: Path) -> None:
    checkout = fleet.artifact(tmp_path / "artifact")
    assert checkout.want(["app/deploy.yaml"]) == 1
    before = (checkout.root / "app/deploy.yaml").stat()
    assert checkout.want(["app"]) == 1  # only app/x/cm.yaml is new
    assert checkout.want(["app", "app/deploy.yaml"]) == 0
    assert checkout.written == {"app/deploy.yaml", "app/x/cm.yaml"}
    assert checkout.want_all() == len(KEPT) - 2
    assert checkout.want_all() == 0
    after = (checkout.root / "app/deploy.yaml").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_files_are_git_blobs_with_their_modes(fleet: Fleet, tmp_path: Path) -> None:
    for checkout, expected in [(fleet.plain(tmp_path / "plain"), ALL), (fleet.artifact(tmp_path / "art"), KEPT)]:
        checkout.want_all()
        files = snapshot(checkout.root).files
        assert set(files) == expected
        for path, (content, mode) in files.items():
            assert content == blob(fleet.repo, fleet.commit, fleet.full(path)), path
            assert mode == (0o755 if path == "tool.sh" else 0o644), path
    assert (tmp_path / "plain/data/crlf.txt").read_bytes() == CRLF_BLOB  # the blob, not the work tree's file
    assert (tmp_path / "plain/data/header.txt").read_bytes() == FLEET["data/header.txt"][0]


def test_directories_without_and_with_the_skeleton(fleet: Fleet, tmp_path: Path) -> None:
    every_dir = parents(ALL)
    artifact_dirs = every_dir - {".github", ".github/workflows"}  # img/ stays: copy_filtered makes it, empty

    lazy = fleet.artifact(tmp_path / "lazy")
    assert snapshot(lazy.root).dirs == set()
    lazy.want(["nested/deep/a/b.yaml", "app/x"])
    assert snapshot(lazy.root).dirs == {"nested", "nested/deep", "nested/deep/a", "app", "app/x"}
    lazy.want_all()
    assert snapshot(lazy.root).dirs == artifact_dirs

    eager = fleet.artifact(tmp_path / "eager", skeleton=True)
    assert snapshot(eager.root) == Snapshot({}, frozenset(artifact_dirs))
    plain = fleet.plain(tmp_path / "plain", skeleton=True)
    assert snapshot(plain.root) == Snapshot({}, frozenset(every_dir))

    reference = reference_artifact(fleet.repo.path, fleet.commit, fleet.prefix, tmp_path / "reference")
    assert reference.dirs == artifact_dirs
    assert reference == snapshot(lazy.root)


APP_FILES = {"app/deploy.yaml", "app/x/cm.yaml", "app/logo.png", "app/.sops.yaml"}
VCS_ONLY = ALL - {".gitattributes"} | {IGNORE_FILE}  # any pattern drops the default exclusions
RULE_CASES = [
    # id, .sourceignore text at the source root, files the artifact holds
    ("directory-excluded", "app/\n", VCS_ONLY - APP_FILES),
    ("re-include-inside-excluded-directory", "app/\n!app/x/cm.yaml\n", VCS_ONLY - APP_FILES | {"app/x/cm.yaml"}),
    ("re-included-subdirectory", "app/\n!app/x/\n", VCS_ONLY - APP_FILES | {"app/x/cm.yaml"}),
    (
        "re-include-by-glob",
        "*.yaml\n!**/cm.yaml\n",
        {p for p in VCS_ONLY if not p.endswith(".yaml")} | {"app/x/cm.yaml"},
    ),
    ("anchored", "/app.yaml\n/deep\n", VCS_ONLY - {"app.yaml"}),
    ("comment-only-keeps-defaults", "# nothing\n\n", KEPT | {IGNORE_FILE}),
]


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_IDS)
@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_sourceignore_rules_from_git(tmp_path: Path, prefix: str, text: str, expected: set[str]) -> None:
    ruled = make_fleet(tmp_path / "ruled", prefix, {IGNORE_FILE: (text.encode(), False)})
    checkout = ruled.artifact(tmp_path / "artifact")
    checkout.want_all()
    reference = reference_artifact(ruled.repo.path, ruled.commit, ruled.prefix, tmp_path / "reference")
    assert set(reference.files) == expected
    assert snapshot(checkout.root) == reference


def test_source_root_with_a_trailing_slash(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "repo", "fleet", {"app/" + IGNORE_FILE: (b"deploy.yaml\n", False)})
    plain, slashed = (
        fleet.artifact(tmp_path / "plain"),
        lazy_artifact(fleet.repo.path, fleet.commit, "fleet/", tmp_path / "slashed"),
    )
    assert plain.want_all() == slashed.want_all() > 0
    assert snapshot(slashed.root) == snapshot(plain.root)
    assert "app/deploy.yaml" not in plain.written


def test_re_included_file_is_written_when_its_excluded_directory_is_asked_for(tmp_path: Path) -> None:
    ruled = make_fleet(tmp_path / "repo", "", {IGNORE_FILE: (b"app/\n!app/x/cm.yaml\n", False)})
    checkout = ruled.artifact(tmp_path / "artifact")
    assert not checkout.has_file("app/deploy.yaml") and checkout.has_file("app/x/cm.yaml")
    assert checkout.files_below("app") == ["app/x/cm.yaml"]
    assert checkout.want(["app"]) == 1
    assert checkout.written == {"app/x/cm.yaml"}


# --- the digest ---------------------------------------------------------------------------------

EDITS: list[tuple[str, Callable[[Path], object]]] = [
    ("file-content", lambda root: (root / "app/deploy.yaml").write_bytes(b"kind: Changed\n")),
    ("file-added", lambda root: (root / "app/new.yaml").write_bytes(b"kind: New\n")),
    ("file-removed", lambda root: (root / "app-1/deploy.yaml").unlink()),
    ("executable-bit", lambda root: (root / "app.yaml").chmod(0o755)),
    ("sourceignore-added", lambda root: (root / "app/x" / IGNORE_FILE).write_bytes(b"*.yaml\n")),
]


def test_digest_names_the_tree_not_the_commit(own_fleet: Fleet) -> None:
    fleet = own_fleet
    _, first = artifact_filter(fleet.git, fleet.listing, fleet.prefix)
    again = fleet.repo.commit("same tree, new commit")
    assert again != fleet.commit
    _, second = artifact_filter(fleet.git, RevisionListing.read(fleet.git, again), fleet.prefix)
    assert first == second and first.startswith("sha256:")


@pytest.mark.parametrize("edit", [e[1] for e in EDITS], ids=[e[0] for e in EDITS])
def test_digest_changes_with_the_content(own_fleet: Fleet, edit: Callable[[Path], object]) -> None:
    fleet = own_fleet
    _, before = artifact_filter(fleet.git, fleet.listing, fleet.prefix)
    edit(fleet.repo.path / fleet.prefix if fleet.prefix else fleet.repo.path)
    changed = fleet.repo.commit("edit")
    _, after = artifact_filter(fleet.git, RevisionListing.read(fleet.git, changed), fleet.prefix)
    assert after != before


def test_changed_sourceignore_changes_digest_and_filter(tmp_path: Path) -> None:
    repo = make_fleet(tmp_path / "repo", "", {IGNORE_FILE: (b"*.png\n", False)})
    keep_before, before = artifact_filter(repo.git, repo.listing, "")
    repo.repo.write(IGNORE_FILE, "*.png\napp-1/\n")
    listing = RevisionListing.read(repo.git, repo.repo.commit("ignore app-1"))
    keep_after, after = artifact_filter(repo.git, listing, "")
    assert after != before
    assert keep_before.keeps("app-1/deploy.yaml") and not keep_after.keeps("app-1/deploy.yaml")


def test_digest_and_filter_of_a_source_root_ignore_what_lies_beside_it(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "repo", "fleet", {"app/" + IGNORE_FILE: (b"deploy.yaml\n", False)})
    _, before = artifact_filter(fleet.git, fleet.listing, "fleet")
    fleet.repo.write("outside.txt", "beside the source root\n")
    listing = RevisionListing.read(fleet.git, fleet.repo.commit("edit beside fleet/"))
    keep, after = artifact_filter(fleet.git, listing, "fleet")
    assert after == before  # the artifact of fleet/ did not change
    for spelling in ("fleet/", "/fleet", "/fleet/"):
        other_keep, digest = artifact_filter(fleet.git, listing, spelling)
        assert digest == after
        assert not other_keep.keeps("app/deploy.yaml") and not keep.keeps("app/deploy.yaml")


# --- the listing --------------------------------------------------------------------------------

BELOW_CASES = [
    ("", sorted(ALL)),
    ("app", ["app/.sops.yaml", "app/deploy.yaml", "app/logo.png", "app/x/cm.yaml"]),
    ("app/", ["app/.sops.yaml", "app/deploy.yaml", "app/logo.png", "app/x/cm.yaml"]),
    ("app/x", ["app/x/cm.yaml"]),
    ("app-1", ["app-1/deploy.yaml"]),
    ("app0", ["app0/z.yaml"]),
    ("ap", []),
    ("app.yaml", []),  # a file has nothing below it
    ("missing", []),
    ("nested", ["nested/deep/a/b.yaml"]),
]
CHILDREN_CASES = [
    (
        "",
        {
            "app": "tree", "app-1": "tree", "app.yaml": "blob", "app0": "tree", "app_b": "tree", ".github": "tree",
            "img": "tree", "nested": "tree", "data": "tree", ".gitattributes": "blob", "tool.sh": "blob",
        },
    ),
    ("app", {"deploy.yaml": "blob", "x": "tree", "logo.png": "blob", ".sops.yaml": "blob"}),
    ("app/", {"deploy.yaml": "blob", "x": "tree", "logo.png": "blob", ".sops.yaml": "blob"}),
    ("app/x", {"cm.yaml": "blob"}),
    ("nested", {"deep": "tree"}),
    ("app.yaml", {}),
    ("missing", {}),
]  # fmt: skip


@pytest.mark.parametrize(("directory", "expected"), BELOW_CASES, ids=[c[0] or "top" for c in BELOW_CASES])
def test_listing_below(top_fleet: Fleet, directory: str, expected: list[str]) -> None:
    assert top_fleet.listing.below(directory) == expected


@pytest.mark.parametrize(("directory", "expected"), CHILDREN_CASES, ids=[c[0] or "top" for c in CHILDREN_CASES])
def test_listing_children(top_fleet: Fleet, directory: str, expected: dict[str, str]) -> None:
    assert top_fleet.listing.children(directory) == expected


def test_listing_paths_dirs_and_tree(top_fleet: Fleet) -> None:
    listing = top_fleet.listing
    assert listing.paths == tuple(sorted(ALL))
    assert listing.dirs == {"", *parents(ALL)}
    assert listing.files["tool.sh"].mode == "100755" and listing.files["app.yaml"].mode == "100644"
    assert listing.commit == top_fleet.commit
    tree = top_fleet.repo.git("rev-parse", f"{top_fleet.commit}^{{tree}}").strip()
    assert listing.tree_id == tree != listing.commit


def test_symlinks_and_submodules_are_not_listed(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "repo", "")
    os.symlink("app/deploy.yaml", fleet.repo.path / "link.yaml")
    os.symlink("app", fleet.repo.path / "linkdir")
    fleet.repo.git("add", "-A")
    fleet.repo.git("update-index", "--add", "--cacheinfo", f"160000,{fleet.commit},vendor/sub")
    fleet.repo.git("commit", "-q", "-m", "links and a submodule")
    commit = fleet.repo.git("rev-parse", "HEAD").strip()
    modes = {line.split("\t")[1]: line.split(" ")[0] for line in fleet.repo.git("ls-tree", "-r", commit).splitlines()}
    assert (modes["link.yaml"], modes["linkdir"], modes["vendor/sub"]) == ("120000", "120000", "160000")

    listing = RevisionListing.read(fleet.git, commit)
    assert set(listing.paths) == ALL
    assert "vendor" not in listing.dirs and listing.children("") == fleet.listing.children("")
    for checkout in (
        LazyCheckout(fleet.git, listing, tmp_path / "plain"),
        lazy_artifact(fleet.repo.path, commit, "", tmp_path / "artifact"),
    ):
        checkout.want(["link.yaml", "linkdir", "linkdir/deploy.yaml", "vendor/sub", "vendor"])
        assert checkout.written == set()
        checkout.want_all()
        names = {p.name for p in checkout.root.iterdir()}
        assert not names & {"link.yaml", "linkdir", "vendor"}
