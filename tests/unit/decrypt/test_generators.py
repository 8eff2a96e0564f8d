# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""Encrypted generator sources (Flux's DecryptSources) on temp kustomize trees, real sops and kustomize."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.decrypt import (
    ALLOW_DISK_TEMP_ENV,
    SopsFormat,
    SopsSession,
    decrypt_generator_sources,
    find_encrypted_generator_sources,
    is_on_tmpfs,
    private_tmpfs_dir,
    secure_join,
)
from fluxform.decrypt.generators import MAX_ENCRYPTED_FILE_SIZE, plaintext_values
from fluxform.errors import DecryptError
from fluxform.kustomize.engine import kustomize_build
from tests.support.keys import AgeKey
from tests.support.sops import SopsCli


def _write(path: Path, content: bytes | str | dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = yamlio.dump(content)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.fixture
def tree(tmp_path: Path, sops_cli: SopsCli, age_key: AgeKey) -> Path:
    """A fleet directory using every reference kind Flux follows, and some it does not."""
    root = tmp_path / "root"

    def enc(plain: bytes, fmt: str) -> bytes:
        return sops_cli.encrypt(plain, fmt, age=[age_key.recipient])

    env = enc(b"USER=app\nPASSWORD=env-plain\n", "dotenv")
    _write(
        root / "apps/kustomization.yaml",
        {
            "resources": ["base", "../shared", "https://github.com/example/repo//deploy", "missing-dir", "cm.yaml"],
            "components": ["comp"],
            "secretGenerator": [
                {"name": "s", "files": ["app.yaml=secret.enc", "plain.txt"], "envs": ["vars.env", "vars.txt"]}
            ],
            "configMapGenerator": [{"name": "c", "envs": ["cm.env"]}],
            "patches": [{"path": "patch.yaml"}, {"path": "https://example.com/p.yaml"}, {"patch": "inline"}],
        },
    )
    _write(root / "apps/cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    _write(root / "apps/secret.enc", enc(b"password: yaml-plain\n", "yaml"))
    _write(root / "apps/plain.txt", "not encrypted")
    _write(root / "apps/vars.env", env)
    _write(root / "apps/vars.txt", env)
    _write(root / "apps/cm.env", env)
    _write(root / "apps/patch.yaml", enc(b"kind: Deployment\nmetadata:\n  name: web\n", "yaml"))
    _write(root / "apps/base/kustomization.yaml", {"secretGenerator": [{"name": "b", "envs": ["../base.env"]}]})
    _write(root / "apps/base.env", env)
    _write(
        root / "apps/comp/kustomization.yaml",
        {"apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component", "patches": [{"path": "p.json"}]},
    )
    _write(
        root / "apps/comp/p.json",
        enc(b'{"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "json-plain"}}', "json"),
    )
    _write(
        root / "shared/kustomization.yaml", {"secretGenerator": [{"name": "sh", "files": ["k.json=/shared/k.json"]}]}
    )
    _write(root / "shared/k.json", enc(b'{"k": "json-plain"}', "json"))
    return root


def _summary(sources: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(str(s.relative), s.usage, s.format.value, str(s.kustomization)) for s in sources]


def test_finds_what_flux_decrypts_in_flux_order(tree: Path) -> None:
    assert _summary(find_encrypted_generator_sources(tree / "apps", tree)) == [
        ("apps/secret.enc", "files", "yaml", "apps/kustomization.yaml"),  # format from the key name
        ("apps/vars.env", "envs", "dotenv", "apps/kustomization.yaml"),
        ("apps/vars.txt", "envs", "dotenv", "apps/kustomization.yaml"),  # envs default to dotenv
        ("apps/patch.yaml", "patches", "yaml", "apps/kustomization.yaml"),
        ("apps/base.env", "envs", "dotenv", "apps/base/kustomization.yaml"),
        ("shared/k.json", "files", "json", "shared/kustomization.yaml"),  # absolute path = inside root
        ("apps/comp/p.json", "patches", "json", "apps/comp/kustomization.yaml"),
    ]


def test_needs_predecryption_only_for_envs_and_patches(tree: Path) -> None:
    sources = find_encrypted_generator_sources(tree / "apps", tree)
    assert {s.usage for s in sources if s.needs_predecryption} == {"envs", "patches"}


def test_start_dir_without_kustomization_file_searches_like_flux_generator(tree: Path) -> None:
    (tree / "apps/kustomization.yaml").rename(tree / "apps/moved.yaml.txt")
    found = _summary(find_encrypted_generator_sources(tree, tree))
    assert [f[0] for f in found] == ["apps/base.env", "apps/comp/p.json", "shared/k.json"]


def test_paths_are_confined_to_the_root(tmp_path: Path, sops_cli: SopsCli, age_key: AgeKey) -> None:
    root = tmp_path / "root"
    env = sops_cli.encrypt(b"A=plain\n", "dotenv", age=[age_key.recipient])
    _write(root / "etc/inside.env", env)
    _write(tmp_path / "etc/inside.env", b"outside the root: never read\n")
    (root / "apps").mkdir()
    (root / "apps/link.env").symlink_to("/etc/inside.env")  # absolute target: re-rooted
    _write(
        root / "apps/kustomization.yaml",
        {
            "resources": ["../../../../apps"],  # clamped to root/apps: itself
            "secretGenerator": [{"name": "s", "envs": ["link.env", "../../../../etc/inside.env"]}],
        },
    )
    [source] = find_encrypted_generator_sources(root / "apps", root)
    assert source.relative == PurePosixPath("etc/inside.env") and source.path == root / "etc/inside.env"


def test_file_size_limit(tmp_path: Path) -> None:
    _write(tmp_path / "kustomization.yaml", {"secretGenerator": [{"name": "s", "envs": ["big.env"]}]})
    _write(tmp_path / "big.env", b"A=" + b"x" * MAX_ENCRYPTED_FILE_SIZE)
    with pytest.raises(DecryptError, match="exceeds the 5242880 byte limit"):
        find_encrypted_generator_sources(tmp_path, tmp_path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"kustomization.yaml": "a: [", "x": ""}, "invalid kustomization file"),
        ({"kustomization.yaml": "{}", "Kustomization": "{}"}, "multiple kustomization files"),
        ({"kustomization.yaml": "resources: [sub]", "sub/readme": ""}, "sub: no kustomization file found"),
        ({"kustomization.yaml": "secretGenerator: [{envs: [absent.env]}]"}, "cannot read absent.env"),
    ],
    ids=["bad yaml", "two files", "resource dir without one", "missing env file"],
)
def test_broken_trees_name_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, content in files.items():
        _write(tmp_path / name, content)
    with pytest.raises(DecryptError, match=message):
        find_encrypted_generator_sources(tmp_path, tmp_path)


def test_decrypted_envs_build_with_kustomize_in_a_tmpfs_copy(tree: Path, age_session: SopsSession) -> None:
    original = (tree / "apps/vars.env").read_bytes()
    with private_tmpfs_dir() as scratch:
        copy = scratch / "tree"
        shutil.copytree(tree, copy, symlinks=True)
        sources = [s for s in find_encrypted_generator_sources(copy / "apps/base", copy) if s.needs_predecryption]
        decrypt_generator_sources(sources, age_session, copy)
        assert (copy / "apps/base.env").stat().st_mode & 0o777 == 0o600
        [built] = yamlio.load_all(kustomize_build(copy / "apps/base"))
    assert not scratch.exists()
    assert {k: base64.b64decode(v) for k, v in built["data"].items()} == {"USER": b"app", "PASSWORD": b"env-plain"}
    assert (tree / "apps/vars.env").read_bytes() == original  # the source tree still holds ciphertext


def test_decrypts_into_a_separate_destination(tree: Path, age_session: SopsSession) -> None:
    sources = find_encrypted_generator_sources(tree / "apps", tree)
    with private_tmpfs_dir() as dest:
        decrypt_generator_sources(sources, age_session, dest)
        assert (dest / "apps/vars.env").read_bytes() == b"USER=app\nPASSWORD=env-plain\n"
        assert yamlio.load((dest / "apps/secret.enc").read_bytes()) == {"password": "yaml-plain"}
        assert (dest / "shared/k.json").read_bytes().replace(b"\t", b"").replace(b"\n", b"") == b'{"k": "json-plain"}'
        assert sorted(p.name for p in (dest / "apps").iterdir()) == [
            "base.env",
            "comp",
            "patch.yaml",
            "secret.enc",
            "vars.env",
            "vars.txt",
        ]


def test_refuses_to_write_plaintext_to_disk(
    tree: Path, age_session: SopsSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    if is_on_tmpfs(tree):
        pytest.skip("this machine's temp dir is tmpfs: no disk location to refuse")
    sources = find_encrypted_generator_sources(tree / "apps", tree)
    with pytest.raises(DecryptError, match="not a tmpfs directory"):
        decrypt_generator_sources(sources, age_session, tree)
    assert b"sops_mac=ENC[" in (tree / "apps/vars.env").read_bytes()
    monkeypatch.setenv(ALLOW_DISK_TEMP_ENV, "1")
    decrypt_generator_sources(sources, age_session, tree)
    assert (tree / "apps/vars.env").read_bytes() == b"USER=app\nPASSWORD=env-plain\n"


SECURE_JOIN = {
    "plain": ("a/b", "a/b"),
    "dotdot clamped": ("../../x", "x"),
    "absolute re-rooted": ("/etc/passwd", "etc/passwd"),
    "relative link": ("link-rel/f", "real/f"),
    "absolute link": ("link-abs/f", "real/f"),
    "escaping link": ("link-out/f", "f"),
    "missing parts kept": ("nope/../real/new", "real/new"),
}


@pytest.mark.parametrize(("unsafe", "expected"), SECURE_JOIN.values(), ids=SECURE_JOIN.keys())
def test_secure_join(tmp_path: Path, unsafe: str, expected: str) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link-rel").symlink_to("real")
    (tmp_path / "link-abs").symlink_to("/real")
    (tmp_path / "link-out").symlink_to("../../../..")
    assert secure_join(tmp_path, unsafe) == tmp_path / expected


def test_secure_join_symlink_loop(tmp_path: Path) -> None:
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(DecryptError, match="too many levels"):
        secure_join(tmp_path, "loop/x")


def test_formats_of_generator_sources() -> None:
    assert SopsFormat("dotenv") is SopsFormat.DOTENV


def test_a_file_a_configmap_generator_reads_too_is_decrypted_first(
    tmp_path: Path, sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    """kustomize-controller's sops/files testdata: Flux decrypts a secretGenerator's file in
    place, so the configMapGenerator reading the same file gets its plaintext too; what it
    decrypted to is listed for masking."""
    root = tmp_path / "root"
    _write(root / "files/file.txt", sops_cli.encrypt(b'{"data": "value"}', "json", age=[age_key.recipient]))
    _write(
        root / "files/kustomization.yaml",
        {
            "generatorOptions": {"disableNameSuffixHash": True},
            "secretGenerator": [{"name": "secret", "files": ["key=file.txt"]}],
            "configMapGenerator": [{"name": "configmap", "files": ["key=file.txt"]}],
        },
    )
    [source] = find_encrypted_generator_sources(root / "files", root)
    assert source.read_by_configmap and source.needs_predecryption

    with private_tmpfs_dir() as copy:
        shutil.copytree(root, copy / "tree")
        decrypt_generator_sources([source], age_session, copy / "tree")
        built = {d["kind"]: d for d in yamlio.load_all(kustomize_build(copy / "tree/files"))}
        values = plaintext_values([source], copy / "tree")

    assert built["ConfigMap"]["data"] == {"key": "value"}
    assert base64.b64decode(built["Secret"]["data"]["key"]) == b"value"
    assert values == {"value"}


def test_only_a_configmap_generator_reading_a_file_leaves_it_encrypted(tmp_path: Path) -> None:
    _write(tmp_path / "kustomization.yaml", {"configMapGenerator": [{"name": "c", "files": ["key=file.txt"]}]})
    _write(tmp_path / "file.txt", '{"data": "ENC[AES256_GCM,data:x,type:str]", "sops": {"mac": "m"}}')
    assert find_encrypted_generator_sources(tmp_path, tmp_path) == []  # Flux does not visit configMapGenerator


@pytest.mark.parametrize(
    ("root_dir", "start", "links", "env", "outcome"),
    [
        ("", "subdir", {"subdir/symlink": "../otherdir/data.env"}, "symlink", "otherdir/data.env"),
        ("subdir", "", {"subdir/symlink": "../otherdir/data.env"}, "symlink", "cannot read otherdir/data.env"),
        ("subdir", "", {}, "../data.env", "cannot read data.env"),
    ],
    ids=["relative symlink within root", "symlink leaving the root", "reference leaving the root"],
)
def test_symlinks_and_references_as_kustomize_controller_resolves_them(
    tmp_path: Path, root_dir: str, start: str, links: dict[str, str], env: str, outcome: str
) -> None:
    """TestDecryptor_decryptKustomizationSources: a path leaving the root is clamped to it,
    where the file is missing: an error naming it; a relative symlink inside is followed."""
    sealed = "key=ENC[AES256_GCM,data:x,type:str]\nsops_mac=ENC[AES256_GCM,data:m,type:str]\n"
    _write(tmp_path / "otherdir/data.env", sealed)
    _write(tmp_path / "data.env", sealed)
    for link, target in links.items():
        (tmp_path / link).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / link).symlink_to(target)
    root = tmp_path / root_dir
    _write(root / start / "kustomization.yaml", {"secretGenerator": [{"name": "s", "envs": [env]}]})

    if outcome.startswith("cannot read"):
        with pytest.raises(DecryptError, match=outcome):
            find_encrypted_generator_sources(root / start, root)
    else:
        [source] = find_encrypted_generator_sources(root / start, root)
        assert str(source.relative) == outcome
