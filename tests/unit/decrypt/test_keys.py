# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""KeyRing: age identities and PGP secret keys from files, environment and Flux's Secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from fluxform import yamlio
from fluxform.decrypt import KeyRing, keyring_from_keys_dir
from fluxform.errors import DecryptError
from tests.support.keys import AgeKey, PgpTestKey, write_age_key_file
from tests.support.sops import secret

# A syntactically valid post-quantum identity prefix; pyrage cannot parse these, sops can.
PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1" + "Q" * 60


def test_age_key_file_with_comments(tmp_path: Path, age_key: AgeKey, other_age_key: AgeKey) -> None:
    path = tmp_path / "keys.agekey"
    path.write_text(
        f"# created: now\n# public key: {age_key.recipient}\n{age_key.identity}\n\n{other_age_key.identity}\n"
    )
    ring = KeyRing.from_files([path])
    assert ring.age_recipients() == sorted([age_key.recipient, other_age_key.recipient])
    assert [i.origin for i in ring.age] == [str(path), str(path)]
    assert not ring.is_empty and ring.pgp == ()


def test_pgp_key_file_and_sniffed_names(tmp_path: Path, pgp_key: PgpTestKey, age_key: AgeKey) -> None:
    asc = tmp_path / "flux.asc"
    asc.write_bytes(pgp_key.armored_secret)
    unnamed_pgp = tmp_path / "private-key"
    unnamed_pgp.write_bytes(pgp_key.armored_secret)
    unnamed_age = write_age_key_file(tmp_path / "keys.txt", age_key)
    ring = KeyRing.from_files([asc, unnamed_pgp, unnamed_age])
    assert pgp_key.fingerprint in ring.pgp_fingerprints()
    assert len(ring.pgp_fingerprints()) == 2  # primary + encryption subkey
    assert ring.age_recipients() == [age_key.recipient]
    assert len(ring.pgp) == 2 and len(KeyRing.merged(ring, ring).pgp) == 1  # same block: one key


def test_from_env_reads_inline_and_file(tmp_path: Path, age_key: AgeKey, other_age_key: AgeKey) -> None:
    key_file = write_age_key_file(tmp_path / "k.txt", other_age_key)
    ring = KeyRing.from_env({"SOPS_AGE_KEY": f"# comment\n{age_key.identity} ", "SOPS_AGE_KEY_FILE": str(key_file)})
    assert ring.age_recipients() == sorted([age_key.recipient, other_age_key.recipient])
    several = KeyRing.from_env({"SOPS_AGE_KEY": f"{age_key.identity} {other_age_key.identity}"})
    assert len(several.age) == 2
    assert KeyRing.from_env({}).is_empty


def test_post_quantum_identity_is_kept_for_sops(age_key: AgeKey) -> None:
    ring = KeyRing.from_env({"SOPS_AGE_KEY": f"{age_key.identity}\n{PQ_IDENTITY}"})
    assert len(ring.age) == 2
    assert ring.age_recipients() == sorted([age_key.recipient, "post-quantum age identity"])


def test_from_secret_manifest_reads_flux_entries(age_key: AgeKey, pgp_key: PgpTestKey) -> None:
    doc = secret(
        "sops-keys",
        namespace="flux-system",
        data={
            "age.agekey": base64.b64encode(age_key.identity.encode()).decode(),
            "pgp.asc": base64.b64encode(pgp_key.armored_secret).decode(),
            "sops.vault-token": base64.b64encode(b"token").decode(),
            "readme.txt": base64.b64encode(b"ignored").decode(),
        },
    )
    ring = KeyRing.from_secret_manifest(doc, "keys/sops.yaml")
    assert ring.age_recipients() == [age_key.recipient]
    assert pgp_key.fingerprint in ring.pgp_fingerprints()
    assert ring.skipped == ("Secret flux-system/sops-keys (keys/sops.yaml) entry 'sops.vault-token'",)
    from_string_data = KeyRing.from_secret_manifest(secret(string_data={"a.agekey": age_key.identity}), "x")
    assert from_string_data.age_recipients() == [age_key.recipient]


BAD_AGE_FILES = {
    "public key": ("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "line 1 is not an age identity"),
    "bad checksum": ("AGE-SECRET-KEY-1" + "Q" * 58, "line 1 is not a valid age identity"),
    "comments only": ("# nothing here\n", "no age identity found"),
    "encrypted identity file": ("age-encryption.org/v1\n-> scrypt x\n", "passphrase-protected"),
}


@pytest.mark.parametrize(("content", "message"), BAD_AGE_FILES.values(), ids=BAD_AGE_FILES.keys())
def test_bad_age_files_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.agekey"
    path.write_text(content)
    with pytest.raises(DecryptError) as caught:
        KeyRing.from_files([path])
    assert message in caught.value.one_line() and str(path) in caught.value.one_line()
    if "SECRET-KEY" in content:
        assert content not in caught.value.one_line()


def test_pgp_public_key_is_refused(tmp_path: Path, pgp_key: PgpTestKey) -> None:
    from fluxform.tool import run_tool

    public = run_tool(
        ["gpg", "--homedir", str(pgp_key.home), "--armor", "--export", pgp_key.fingerprint], tool="gpg"
    ).stdout
    path = tmp_path / "public.asc"
    path.write_bytes(public)
    with pytest.raises(DecryptError, match="not an armored PGP private key"):
        KeyRing.from_files([path])


def test_encrypted_decryption_secret_is_refused() -> None:
    doc = secret(data={"age.agekey": "RU5DW10="})
    doc["sops"] = {"mac": "ENC[...]"}
    with pytest.raises(DecryptError, match="itself SOPS-encrypted"):
        KeyRing.from_secret_manifest(doc, "keys/sops.yaml")


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(DecryptError, match="cannot read key file"):
        KeyRing.from_files([tmp_path / "absent.agekey"])


def test_keys_dir_finds_the_named_secret(tmp_path: Path, age_key: AgeKey, other_age_key: AgeKey) -> None:
    encoded = base64.b64encode(age_key.identity.encode()).decode()
    other = base64.b64encode(other_age_key.identity.encode()).decode()
    (tmp_path / "nested").mkdir()
    (tmp_path / "a.yaml").write_text(
        yamlio.dump_all(
            [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sops-age"}},
                secret("sops-age", namespace="other", data={"age.agekey": other}),
            ]
        )
    )
    (tmp_path / "nested" / "b.yml").write_text(
        yamlio.dump(secret("sops-age", namespace="flux-system", data={"age.agekey": encoded}))
    )
    ring = keyring_from_keys_dir(tmp_path, namespace="flux-system", name="sops-age")
    assert ring is not None and ring.age_recipients() == [age_key.recipient]
    assert keyring_from_keys_dir(tmp_path, namespace="flux-system", name="absent") is None


def test_repr_never_shows_key_material(age_key: AgeKey, pgp_key: PgpTestKey, tmp_path: Path) -> None:
    asc = tmp_path / "k.asc"
    asc.write_bytes(pgp_key.armored_secret)
    ring = KeyRing.merged(KeyRing.from_env({"SOPS_AGE_KEY": age_key.identity}), KeyRing.from_files([asc]))
    shown = repr(ring) + repr(ring.age) + repr(ring.pgp) + str(ring) + ring.describe()
    assert age_key.identity not in shown and "PRIVATE KEY" not in shown
    assert age_key.recipient in shown and pgp_key.fingerprint in shown
