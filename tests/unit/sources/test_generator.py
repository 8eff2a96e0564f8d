"""ArtifactGenerator copy operations, checked against the behaviours source-watcher's builder
tests pin (fluxcd/source-watcher internal/builder): every case builds small source trees,
applies one artifact's copy operations and compares the exact files staged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.errors import SourceError
from fluxform.objects import ObjectId
from fluxform.sources.generator import GENERATOR_GROUP, ArtifactGenerator, build_artifact, go_glob
from tests.support.trees import write_tree

Trees = dict[str, dict[str, str]]  # alias -> {relative path: text}
Copy = list[dict[str, Any]]


def generator_doc(copy: Copy, aliases: tuple[str, ...] = ("src",), **spec: Any) -> dict[str, Any]:
    """An ArtifactGenerator with one artifact `out` and one GitRepository per alias."""
    return {
        "apiVersion": f"{GENERATOR_GROUP}/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "gen", "namespace": "flux-system"},
        "spec": {
            "sources": [{"alias": a, "kind": "GitRepository", "name": a} for a in aliases],
            "artifacts": [{"name": "out", "copy": copy}],
            **spec,
        },
    }


def build(tmp_path: Path, trees: Trees, copy: Copy) -> Path:
    """Write each source tree, apply the copy operations, return the staging directory."""
    roots = {alias: write_tree(tmp_path / "sources" / alias, files) for alias, files in trees.items()}
    for root in roots.values():
        root.mkdir(parents=True, exist_ok=True)
    generator = ArtifactGenerator.from_doc(generator_doc(copy, tuple(trees)))
    staging = tmp_path / "staging"
    build_artifact(generator.artifacts["out"], roots, staging)
    return staging


def staged_files(staging: Path) -> dict[str, str]:
    return {
        Path(dirpath, name).relative_to(staging).as_posix(): Path(dirpath, name).read_text()
        for dirpath, _, names in os.walk(staging)
        for name in names
    }


def staged_dirs(staging: Path) -> set[str]:
    return {
        Path(dirpath, name).relative_to(staging).as_posix() for dirpath, names, _ in os.walk(staging) for name in names
    }


def op(origin: str, to: str, **extra: Any) -> dict[str, Any]:
    return {"from": origin, "to": to, **extra}


INFRA = {
    "infrastructure/controllers/descheduler/release.yaml": "descheduler",
    "infrastructure/controllers/descheduler/kustomization.yaml": "descheduler-ks",
    "infrastructure/controllers/sealed-secrets/release.yaml": "sealed",
    "infrastructure/configs/cluster-issuer.yaml": "issuer",
    "infrastructure/configs/secret.yaml": "secret",
}

# (id, source trees, copy operations, exact staged files)
COPY_CASES: list[tuple[str, Trees, Copy, dict[str, str]]] = [
    (
        "file to a named file",
        {"src": {"config.yaml": "a: 1\n", "other.yaml": "b: 2\n"}},
        [op("@src/config.yaml", "@artifact/x.yaml")],
        {"x.yaml": "a: 1\n"},
    ),
    (
        "file to the artifact root",
        {"src": {"config.yaml": "a: 1\n"}},
        [op("@src/config.yaml", "@artifact/")],
        {"config.yaml": "a: 1\n"},
    ),
    (
        "file to dir/ keeps its name",
        {"src": {"config.yaml": "a: 1\n"}},
        [op("@src/config.yaml", "@artifact/dir/")],
        {"dir/config.yaml": "a: 1\n"},
    ),
    (
        "nested file to a nested named file",
        {"src": {"charts/podinfo/values-prod.yaml": "env: prod\n"}},
        [op("@src/charts/podinfo/values-prod.yaml", "@artifact/podinfo/values.yaml")],
        {"podinfo/values.yaml": "env: prod\n"},
    ),
    (
        "file to a path that is an existing directory lands inside it",
        {"src": {"file1.txt": "one", "subdir/file2.txt": "two"}},
        [op("@src/subdir/", "@artifact/"), op("@src/file1.txt", "@artifact/subdir")],
        {"subdir/file1.txt": "one", "subdir/file2.txt": "two"},
    ),
    (
        "directory without slashes lands as to/<dirname>/",
        {"src": {"config/app.yaml": "app", "config/db.yaml": "db", "top.yaml": "top"}},
        [op("@src/config", "@artifact/dest")],
        {"dest/config/app.yaml": "app", "dest/config/db.yaml": "db"},
    ),
    (
        "directory with slashes lands as to/<dirname>/",
        {"src": {"config/app.yaml": "app", "config/db.yaml": "db"}},
        [op("@src/config/", "@artifact/dest/")],
        {"dest/config/app.yaml": "app", "dest/config/db.yaml": "db"},
    ),
    (
        "nested directory is copied recursively under its own name",
        {"src": {"apps/base/a.yaml": "a", "apps/base/deep/b.yaml": "b", "apps/prod/c.yaml": "c"}},
        [op("@src/apps/base", "@artifact/")],
        {"base/a.yaml": "a", "base/deep/b.yaml": "b"},
    ),
    (
        "the source root copied to the artifact root",
        {"src": {"root.yaml": "root", "subdir/nested.yaml": "nested"}},
        [op("@src/", "@artifact/")],
        {"root.yaml": "root", "subdir/nested.yaml": "nested"},
    ),
    (
        "glob at the root matches one level",
        {"src": {"a.yaml": "a", "b.yaml": "b", "c.json": "c", "sub/d.yaml": "d"}},
        [op("@src/*.yaml", "@artifact/manifests/")],
        {"manifests/a.yaml": "a", "manifests/b.yaml": "b"},
    ),
    (
        "glob dir/*.yaml keeps the full match path",
        {"src": {"dir/a.yaml": "a", "dir/b.txt": "b", "dir/sub/c.yaml": "c", "top.yaml": "t"}},
        [op("@src/dir/*.yaml", "@artifact/out/")],
        {"out/dir/a.yaml": "a"},
    ),
    (
        "** alone copies everything, directories recursively",
        {"src": {"root.yaml": "root", "subdir/nested.yaml": "nested", "subdir/deep/x.yaml": "x"}},
        [op("@src/**", "@artifact/")],
        {"root.yaml": "root", "subdir/nested.yaml": "nested", "subdir/deep/x.yaml": "x"},
    ),
    (
        "dir/** strips the dir/ prefix and copies sub-directories recursively",
        {
            "src": {
                "config/app.yaml": "app",
                "config/subdir/db.yaml": "db",
                "config/subdir/d/e.yaml": "e",
                "o.yaml": "o",
            }
        },
        [op("@src/config/**", "@artifact/dest/")],
        {"dest/app.yaml": "app", "dest/subdir/db.yaml": "db", "dest/subdir/d/e.yaml": "e"},
    ),
    (
        "** in a middle segment is one level, like *",
        {"src": {"apps/a/deploy.yaml": "a", "apps/a/b/deploy.yaml": "ab", "apps/deploy.yaml": "top"}},
        [op("@src/apps/**/deploy.yaml", "@artifact/")],
        {"apps/a/deploy.yaml": "a"},
    ),
    (
        "glob in a middle segment keeps the full match path",
        {"src": {"apps/a/deploy.yaml": "a", "apps/b/deploy.yaml": "b", "apps/c/other.yaml": "c"}},
        [op("@src/apps/*/deploy.yaml", "@artifact/out")],
        {"out/apps/a/deploy.yaml": "a", "out/apps/b/deploy.yaml": "b"},
    ),
    (
        "? and [] in from",
        {"src": {"env-a.yaml": "a", "env-b.yaml": "b", "env-c.yaml": "c", "env-ab.yaml": "ab"}},
        [op("@src/env-[ab].yaml", "@artifact/x/"), op("@src/env-?.yaml", "@artifact/y/")],
        {"x/env-a.yaml": "a", "x/env-b.yaml": "b", "y/env-a.yaml": "a", "y/env-b.yaml": "b", "y/env-c.yaml": "c"},
    ),
    (
        "later operations overwrite earlier files and keep the others",
        {
            "one": {"config/app.yaml": "one: app", "config/database.yaml": "one: db"},
            "two": {"config/app.yaml": "two: app", "config/network.yaml": "two: net"},
        },
        [op("@one/**", "@artifact/"), op("@two/**", "@artifact/")],
        {"config/app.yaml": "two: app", "config/database.yaml": "one: db", "config/network.yaml": "two: net"},
    ),
    (
        "file to file after a chart glob does not treat the destination as a directory",
        {
            "chart": {"Chart.yaml": "name: podinfo", "values.yaml": "name: podinfo"},
            "repo": {"charts/podinfo/values-prod.yaml": "env: production"},
        },
        [op("@chart/**", "@artifact/"), op("@repo/charts/podinfo/values-prod.yaml", "@artifact/podinfo/values.yaml")],
        {"Chart.yaml": "name: podinfo", "values.yaml": "name: podinfo", "podinfo/values.yaml": "env: production"},
    ),
    # -- exclude
    (
        "exclude *.md matches file names at any depth",
        {"src": {"app.yaml": "a", "README.md": "r", "docs/guide.md": "g", "docs/x.yaml": "x", "notes.md.txt": "n"}},
        [op("@src/**", "@artifact/", exclude=["*.md"])],
        {"app.yaml": "a", "docs/x.yaml": "x", "notes.md.txt": "n"},
    ),
    (
        "exclude **/test/** at any depth, not a name containing test",
        {
            "src": {
                "app.yaml": "a",
                "test/a.yaml": "t",
                "sub/test/b.yaml": "t",
                "sub/keep.yaml": "k",
                "contest/x.yaml": "x",
                "sub/tests/y.yaml": "y",
            }
        },
        [op("@src/**", "@artifact/", exclude=["**/test/**"])],
        {"app.yaml": "a", "sub/keep.yaml": "k", "contest/x.yaml": "x", "sub/tests/y.yaml": "y"},
    ),
    (
        "several excludes: extensions, hidden files, a directory",
        {"src": {"app.yaml": "a", "README.md": "r", "temp.tmp": "t", ".hidden": "h", "d/.x": "h", "tests/t.go": "t"}},
        [op("@src/**", "@artifact/", exclude=["*.md", "*.tmp", "**/.*", "**/tests/**"])],
        {"app.yaml": "a"},
    ),
    (
        "exclude a file name from a glob selection",
        {"src": {"app.yaml": "a", "config.yaml": "c", "secret.yaml": "s", "other.json": "o"}},
        [op("@src/*.yaml", "@artifact/configs/", exclude=["secret.yaml"])],
        {"configs/app.yaml": "a", "configs/config.yaml": "c"},
    ),
    (
        "an excluded single file copies nothing and is no error",
        {"src": {"secret.yaml": "s", "keep.yaml": "k"}},
        [op("@src/secret.yaml", "@artifact/config.yaml", exclude=["secret.yaml"])],
        {},
    ),
    (
        "exclude by the full path from the source root (glob copy)",
        {"src": INFRA},
        [op("@src/infrastructure/**", "@artifact/", exclude=["infrastructure/controllers/descheduler/**"])],
        {
            "controllers/sealed-secrets/release.yaml": "sealed",
            "configs/cluster-issuer.yaml": "issuer",
            "configs/secret.yaml": "secret",
        },
    ),
    (
        "exclude by the path below the pattern's literal prefix (glob copy)",
        {"src": INFRA},
        [op("@src/infrastructure/**", "@artifact/", exclude=["controllers/descheduler/**"])],
        {
            "controllers/sealed-secrets/release.yaml": "sealed",
            "configs/cluster-issuer.yaml": "issuer",
            "configs/secret.yaml": "secret",
        },
    ),
    (
        "exclude by the full path from the source root (plain directory copy)",
        {"src": INFRA},
        [op("@src/infrastructure", "@artifact/", exclude=["infrastructure/controllers/descheduler/**"])],
        {
            "infrastructure/controllers/sealed-secrets/release.yaml": "sealed",
            "infrastructure/configs/cluster-issuer.yaml": "issuer",
            "infrastructure/configs/secret.yaml": "secret",
        },
    ),
    (
        "exclude by the path below the copied directory (plain directory copy)",
        {"src": INFRA},
        [op("@src/infrastructure", "@artifact/", exclude=["controllers/descheduler/**"])],
        {
            "infrastructure/controllers/sealed-secrets/release.yaml": "sealed",
            "infrastructure/configs/cluster-issuer.yaml": "issuer",
            "infrastructure/configs/secret.yaml": "secret",
        },
    ),
    (
        "the directory being walked is not an exclude anchor",
        {
            "src": {
                "infrastructure/descheduler/release.yaml": "top",
                "infrastructure/controllers/descheduler/release.yaml": "nested",
                "infrastructure/controllers/sealed-secrets/release.yaml": "sealed",
            }
        },
        [op("@src/infrastructure/**", "@artifact/", exclude=["descheduler/**"])],
        {"controllers/descheduler/release.yaml": "nested", "controllers/sealed-secrets/release.yaml": "sealed"},
    ),
    (
        "exclude one nested file by its full path",
        {"src": INFRA},
        [op("@src/infrastructure/configs/**", "@artifact/", exclude=["infrastructure/configs/secret.yaml"])],
        {"cluster-issuer.yaml": "issuer"},
    ),
    (
        "exclude with a doublestar alternative and class",
        {"src": {"a.yaml": "a", "b.yml": "b", "c.json": "c", "d1.txt": "d1", "d9.txt": "d9"}},
        [op("@src/**", "@artifact/", exclude=["*.{yml,json}", "d[0-4].txt"])],
        {"a.yaml": "a", "d9.txt": "d9"},
    ),
]


@pytest.mark.parametrize(
    ("trees", "copy", "expected"),
    [pytest.param(*c[1:], id=c[0]) for c in COPY_CASES],
)
def test_copy_operations_stage_exactly(tmp_path: Path, trees: Trees, copy: Copy, expected: dict[str, str]) -> None:
    assert staged_files(build(tmp_path, trees, copy)) == expected


def test_excluded_directories_are_skipped_while_walking(tmp_path: Path) -> None:
    """A directory an exclude matches is not entered, so not even its empty copy is staged."""
    trees = {"src": {"app.yaml": "a", "tests/t.yaml": "t", "sub/tests/u.yaml": "u", "sub/keep.yaml": "k"}}
    staging = build(tmp_path, trees, [op("@src/**", "@artifact/", exclude=["**/tests"])])
    assert staged_files(staging) == {"app.yaml": "a", "sub/keep.yaml": "k"}
    assert staged_dirs(staging) == {"sub"}


def test_directories_left_empty_by_file_excludes_are_kept(tmp_path: Path) -> None:
    """source-watcher creates each walked directory before its files are filtered."""
    trees = {"src": {"app.yaml": "a", "docs/guide.md": "g"}}
    staging = build(tmp_path, trees, [op("@src/**", "@artifact/", exclude=["*.md"])])
    assert staged_dirs(staging) == {"docs"}


@pytest.mark.parametrize(
    ("trees", "copy", "expected_dirs"),
    [
        pytest.param(
            {"src": {"app.yaml": "a", "testdata/t.yaml": "t", "configs/prod.yaml": "p"}},
            [op("@src/**", "@artifact/", exclude=["**/testdata/**"])],
            {"configs"},
            id="glob match of an excluded directory",
        ),
        pytest.param(
            {"src": INFRA},
            [op("@src/infrastructure/**", "@artifact/", exclude=["infrastructure/controllers/descheduler/**"])],
            {"controllers", "controllers/sealed-secrets", "configs"},
            id="walked directory excluded by full path",
        ),
        pytest.param(
            {"src": INFRA},
            [op("@src/infrastructure", "@artifact/", exclude=["controllers/descheduler/**"])],
            {"infrastructure", "infrastructure/controllers", "infrastructure/controllers/sealed-secrets",
             "infrastructure/configs"},
            id="walked directory excluded below the copied directory",
        ),
    ],
)  # fmt: skip
def test_directory_excluded_with_trailing_doublestar_is_not_staged(
    tmp_path: Path, trees: Trees, copy: Copy, expected_dirs: set[str]
) -> None:
    assert staged_dirs(build(tmp_path, trees, copy)) == expected_dirs


def test_glob_whose_only_match_is_an_excluded_directory_fails(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="were excluded"):
        build(tmp_path, {"src": {"cfg/sub/a.yaml": "a"}}, [op("@src/cfg/*", "@artifact/", exclude=["sub/**"])])


# -- strategy: Merge

MERGE_BASE = "name: app\nports: [80, 443]\nlabels:\n  env: dev\n  keep: me\nreplicas: 3\n"
MERGE_OVERLAY = "replicas: 5\nports: [8080]\nlabels:\n  env: prod\nenv: production\n"
MERGED = {"name": "app", "ports": [8080], "labels": {"env": "prod", "keep": "me"}, "replicas": 5, "env": "production"}


def staged_yaml(staging: Path, rel: str) -> Any:
    return yamlio.load((staging / rel).read_text())


def test_merge_deep_merges_maps_and_replaces_lists(tmp_path: Path) -> None:
    staging = build(
        tmp_path,
        {"one": {"config.yaml": MERGE_BASE}, "two": {"config.yaml": MERGE_OVERLAY}},
        [
            op("@one/config.yaml", "@artifact/config.yaml", strategy="Overwrite"),
            op("@two/config.yaml", "@artifact/config.yaml", strategy="Merge"),
        ],
    )
    assert set(staged_files(staging)) == {"config.yaml"}
    assert staged_yaml(staging, "config.yaml") == MERGED


def test_merge_reads_json_and_every_document(tmp_path: Path) -> None:
    staging = build(
        tmp_path,
        {"one": {"config.yaml": "a: b\nx: {k: 1}\n---\nz: 2\n"}, "two": {"config.json": '{"c": {"d": "e"}, "a": "o"}'}},
        [op("@one/config.yaml", "@artifact/"), op("@two/config.json", "@artifact/config.yaml", strategy="Merge")],
    )
    assert staged_yaml(staging, "config.yaml") == {"a": "o", "c": {"d": "e"}, "x": {"k": 1}, "z": 2}


def test_merge_copies_when_the_destination_does_not_exist(tmp_path: Path) -> None:
    text = "# kept verbatim\na: b\n"
    staging = build(tmp_path, {"src": {"config.yaml": text}}, [op("@src/config.yaml", "@artifact/", strategy="Merge")])
    assert staged_files(staging) == {"config.yaml": text}


def test_merge_applies_per_file_for_glob_matches_and_honours_excludes(tmp_path: Path) -> None:
    staging = build(
        tmp_path,
        {
            "one": {"config.yaml": "env: dev\nregion: eu\n", "secret.yaml": "token: base\n"},
            "two": {"config.yaml": "env: prod\n", "secret.yaml": "token: leak\n", "new.yaml": "added: 1\n"},
        },
        [op("@one/**", "@artifact/"), op("@two/*.yaml", "@artifact/", strategy="Merge", exclude=["secret.yaml"])],
    )
    assert set(staged_files(staging)) == {"config.yaml", "secret.yaml", "new.yaml"}
    assert staged_yaml(staging, "config.yaml") == {"env": "prod", "region": "eu"}
    assert staged_yaml(staging, "secret.yaml") == {"token": "base"}
    assert staged_yaml(staging, "new.yaml") == {"added": 1}


def test_merge_does_not_apply_inside_a_copied_directory(tmp_path: Path) -> None:
    """source-watcher walks a matched directory with plain copies: its files overwrite."""
    staging = build(
        tmp_path,
        {"one": {"cfg/app.yaml": "a: 1\nb: 2\n"}, "two": {"cfg/app.yaml": "a: 9\n"}},
        [op("@one/cfg", "@artifact/"), op("@two/cfg", "@artifact/", strategy="Merge")],
    )
    assert staged_files(staging) == {"cfg/app.yaml": "a: 9\n"}


MERGE_TEXT_CASES = [
    pytest.param(
        "b: 1\na:\n  x: [1, 2]\n",
        "c: text\n",
        "a:\n  x:\n  - 1\n  - 2\nb: 1\nc: text\n",
        id="sorted keys, block lists not indented",
    ),
    pytest.param(
        "a: 1\n",
        'flag: "true"\nempty: ""\n',
        'a: 1\nempty: ""\nflag: "true"\n',
        id="strings that read back as another type are double-quoted",
    ),
    pytest.param(
        "a: 1\n",
        "when: '2001-12-14'\nnum: '1e3'\nsexagesimal: '1:20'\ncolon: 'a: b'\nstar: '*x'\n",
        'a: 1\ncolon: \'a: b\'\nnum: "1e3"\nsexagesimal: "1:20"\nstar: \'*x\'\nwhen: "2001-12-14"\n',
        id="strings only the emitter cannot write plain stay single-quoted",
    ),
]


@pytest.mark.parametrize(("base", "overlay", "expected"), MERGE_TEXT_CASES)
def test_merge_writes_go_yaml_text(tmp_path: Path, base: str, overlay: str, expected: str) -> None:
    """The merged file's bytes feed the artifact digest, so they must be what Go writes."""
    staging = build(
        tmp_path,
        {"one": {"c.yaml": base}, "two": {"c.yaml": overlay}},
        [op("@one/c.yaml", "@artifact/"), op("@two/c.yaml", "@artifact/", strategy="Merge")],
    )
    assert staged_files(staging) == {"c.yaml": expected}


@pytest.mark.parametrize(
    ("base", "overlay"),
    [("a: 1\n", "- a\n- b\n"), ("- a\n", "a: 1\n"), ("a: 1\n", "a: [unclosed\n")],
    ids=["overlay is a list", "destination is a list", "overlay is not YAML"],
)
def test_merge_refuses_what_is_not_a_yaml_map(tmp_path: Path, base: str, overlay: str) -> None:
    with pytest.raises(SourceError, match="cannot merge"):
        build(
            tmp_path,
            {"one": {"c.yaml": base}, "two": {"c.yaml": overlay}},
            [op("@one/c.yaml", "@artifact/"), op("@two/c.yaml", "@artifact/", strategy="Merge")],
        )


# -- errors while building

BUILD_ERRORS: list[tuple[str, dict[str, str], Copy, str]] = [
    ("glob matches nothing", {"a.json": "a"}, [op("@src/*.yaml", "@artifact/")], "no files match pattern '\\*.yaml'"),
    (
        "every match excluded",
        {"a.md": "a", "b.md": "b"},
        [op("@src/*.md", "@artifact/", exclude=["*.md"])],
        "all files matching pattern",
    ),
    ("missing file", {"a.yaml": "a"}, [op("@src/test.yaml", "@artifact/")], "source 'test.yaml' does not exist"),
    ("missing directory", {"a.yaml": "a"}, [op("@src/apps/", "@artifact/")], "'apps' does not exist"),
    ("invalid glob", {"a.yaml": "a"}, [op("@src/[", "@artifact/")], "invalid glob pattern"),
    ("path escaping the source root", {"a.yaml": "a"}, [op("@src/../outside.yaml", "@artifact/")], ""),
    ("deeper path escaping the source root", {"a/b.yaml": "b"}, [op("@src/a/../../outside.yaml", "@artifact/")], ""),
]


@pytest.mark.parametrize(("tree", "copy", "message"), [c[1:] for c in BUILD_ERRORS], ids=[c[0] for c in BUILD_ERRORS])
def test_build_errors(tmp_path: Path, tree: dict[str, str], copy: Copy, message: str) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "outside.yaml").write_text("secret: outside\n")
    with pytest.raises(SourceError, match=message or None) as caught:
        build(tmp_path, {"src": tree}, copy)
    assert "failed to apply copy operation from '@src/" in str(caught.value)
    staging = tmp_path / "staging"
    assert "secret: outside\n" not in staged_files(staging).values()


def test_from_path_with_dotdot_fails_even_when_the_cleaned_name_exists_inside(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        build(tmp_path, {"src": {"outside.yaml": "inside"}}, [op("@src/../outside.yaml", "@artifact/")])


def test_to_path_escaping_the_artifact_fails(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        build(tmp_path, {"src": {"a.yaml": "a"}}, [op("@src/a.yaml", "@artifact/../x.yaml")])


def test_symlink_escaping_the_source_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text("secret: outside\n")
    root = write_tree(tmp_path / "sources" / "src", {"a.yaml": "a"})
    (root / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    generator = ArtifactGenerator.from_doc(generator_doc([op("@src/link.yaml", "@artifact/")]))
    with pytest.raises(SourceError, match="escapes"):
        build_artifact(generator.artifacts["out"], {"src": root}, tmp_path / "staging")


def test_build_without_the_alias_root_is_a_source_error(tmp_path: Path) -> None:
    generator = ArtifactGenerator.from_doc(generator_doc([op("@src/a.yaml", "@artifact/")]))
    with pytest.raises(SourceError, match="not found"):
        build_artifact(generator.artifacts["out"], {}, tmp_path / "staging")


# -- errors while reading the generator

SPEC_ERRORS: list[tuple[str, Copy, dict[str, Any], str]] = [
    ("from without @", [op("src/a.yaml", "@artifact/")], {}, "'@alias/pattern'"),
    ("from without a path", [op("@src", "@artifact/")], {}, "'@alias/pattern'"),
    ("from with an empty path", [op("@", "@artifact/")], {}, "'@alias/pattern'"),
    ("unknown alias", [op("@missing/file.yaml", "@artifact/")], {}, "source alias 'missing' not found"),
    ("to outside @artifact/", [op("@src/a.yaml", "artifact/a.yaml")], {}, "must start with '@artifact/'"),
    ("to @artifact without slash", [op("@src/a.yaml", "@artifact")], {}, "must start with '@artifact/'"),
    ("to another alias", [op("@src/a.yaml", "@src/a.yaml")], {}, "must start with '@artifact/'"),
    ("Extract strategy", [op("@src/*.tgz", "@artifact/", strategy="Extract")], {}, "strategy Extract is not supported"),
    ("unknown strategy", [op("@src/a.yaml", "@artifact/", strategy="Append")], {}, "strategy Append is not supported"),
    ("invalid exclude", [op("@src/*.md", "@artifact/", exclude=["[*.md"])], {}, "invalid exclude pattern '\\[\\*.md'"),
    (
        "pathPattern",
        [op("@src/a.yaml", "@artifact/")],
        {"pathPattern": "@src/apps/{app}"},
        "pathPattern is not supported",
    ),
    ("artifact without copy", [], {}, "at least one copy operation"),
]


@pytest.mark.parametrize(("copy", "spec", "message"), [c[1:] for c in SPEC_ERRORS], ids=[c[0] for c in SPEC_ERRORS])
def test_from_doc_refuses(copy: Copy, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        ArtifactGenerator.from_doc(generator_doc(copy, **spec))
    assert str(caught.value).startswith("ArtifactGenerator flux-system/gen: ")
    assert caught.value.subject == ObjectId("flux-system", "gen", GENERATOR_GROUP, "ArtifactGenerator")


@pytest.mark.parametrize(
    "aliases", [("src", "src"), ("Src",), ("-src",), ("",)], ids=["repeated", "upper", "dash", "empty"]
)
def test_from_doc_refuses_bad_aliases(aliases: tuple[str, ...]) -> None:
    with pytest.raises(SourceError, match=r"source alias .* is invalid or repeated"):
        ArtifactGenerator.from_doc(generator_doc([op("@src/a.yaml", "@artifact/")], aliases))


def test_from_doc_defaults_source_namespace_and_parses_operations() -> None:
    doc = generator_doc([op("@repo/apps/**", "@artifact/apps/", exclude=["*.md"], strategy="Merge")])
    doc["spec"]["sources"] = [
        {"alias": "repo", "kind": "GitRepository", "name": "monorepo"},
        {"alias": "chart", "kind": "OCIRepository", "name": "podinfo", "namespace": "charts"},
    ]
    generator = ArtifactGenerator.from_doc(doc)
    assert generator.id == ObjectId("flux-system", "gen", GENERATOR_GROUP, "ArtifactGenerator")
    assert dict(generator.sources) == {
        "repo": ("GitRepository", "flux-system", "monorepo"),
        "chart": ("OCIRepository", "charts", "podinfo"),
    }
    (operation,) = generator.artifacts["out"].copy
    assert (operation.source, operation.pattern, operation.to, operation.to_is_dir) == (
        "repo",
        "apps/**",
        "apps/",
        True,
    )
    assert (operation.exclude, operation.strategy) == (("*.md",), "Merge")


def test_from_doc_defaults_the_strategy_to_overwrite() -> None:
    generator = ArtifactGenerator.from_doc(generator_doc([op("@src/a.yaml", "@artifact/b.yaml")]))
    (operation,) = generator.artifacts["out"].copy
    assert (operation.to, operation.to_is_dir, operation.strategy) == ("b.yaml", False, "Overwrite")


# -- go_glob: Go's fs.Glob / path.Match

GLOB_TREE = {
    "a.yaml": "", "b.yaml": "", ".hidden.yaml": "", "c.txt": "",
    "abc": "", "bbc": "", "cbc": "", "dbc": "", "a/bc": "",
    "dir/x.yaml": "", "dir/sub/y.yaml": "", "dir/.dot": "",
}  # fmt: skip

GLOB_CASES: list[tuple[str, list[str]]] = [
    ("*.yaml", [".hidden.yaml", "a.yaml", "b.yaml"]),  # a leading dot is an ordinary character
    ("*/x.yaml", ["dir/x.yaml"]),
    ("*/y.yaml", []),  # * does not cross /
    ("*/*/y.yaml", ["dir/sub/y.yaml"]),
    ("dir/*", ["dir/.dot", "dir/sub", "dir/x.yaml"]),
    ("dir/**", ["dir/.dot", "dir/sub", "dir/x.yaml"]),  # ** is *
    ("**/y.yaml", []),
    ("?bc", ["abc", "bbc", "cbc", "dbc"]),
    ("?.yaml", ["a.yaml", "b.yaml"]),
    ("[a-c]bc", ["abc", "bbc", "cbc"]),
    ("[^a]bc", ["bbc", "cbc", "dbc"]),
    ("[ad]bc", ["abc", "dbc"]),
    ("a?bc", []),  # ? does not match /
    ("a.yaml", ["a.yaml"]),
    ("missing.yaml", []),
    ("nodir/*", []),
]


@pytest.mark.parametrize(("pattern", "expected"), GLOB_CASES, ids=[c[0] for c in GLOB_CASES])
def test_go_glob(tmp_path: Path, pattern: str, expected: list[str]) -> None:
    assert go_glob(write_tree(tmp_path, GLOB_TREE), pattern) == expected


def test_go_glob_refuses_an_unclosed_class(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="invalid glob pattern"):
        go_glob(write_tree(tmp_path, GLOB_TREE), "[ab")
