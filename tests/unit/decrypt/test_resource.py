# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""decrypt_manifest against ciphertext made by the real sops binary, as Flux's DecryptResource."""

from __future__ import annotations

import base64
import configparser
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.decrypt import (
    KeyRing,
    MacMismatch,
    SopsSession,
    decrypt_manifest,
    decrypt_manifests,
    encrypted_paths,
    flux_refuses_apply,
    has_sops_metadata,
    needs_decryption,
    secret_values_encrypted,
    undecrypted_warning,
)
from fluxform.decrypt.resource import leaves_filled_with
from fluxform.errors import DecryptError
from fluxform.kustomize.engine import kustomize_build
from fluxform.objects import SourceLocation
from tests.support.ids import ks
from tests.support.keys import AgeKey, PgpTestKey
from tests.support.sops import SopsCli, encrypt_manifest, secret

KS = ks("apps")
REGEX = ["--encrypted-regex", "^(data|stringData)$"]
BINARY_BLOB = bytes(range(256))

PLAIN_CASES: dict[str, dict[str, Any]] = {
    "stringData": secret(string_data={"password": "hunter2-plain", "multi": "line1\nline2\n"}),
    "data": secret(data={"token": base64.b64encode(b"t0ken-plain").decode()}),
    "binary data": secret(data={"blob": base64.b64encode(BINARY_BLOB).decode()}),
    "data and stringData": secret(data={"a": "YQ=="}, string_data={"b": "bee-plain"}),
    "empty value": secret(string_data={"empty": "", "full": "x-plain"}),
}


@pytest.mark.parametrize("doc", PLAIN_CASES.values(), ids=PLAIN_CASES.keys())
def test_encrypted_regex_secret_round_trips(
    doc: dict[str, Any], sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    encrypted = encrypt_manifest(sops_cli, doc, age=[age_key.recipient], extra=REGEX)
    assert has_sops_metadata(encrypted)
    assert decrypt_manifest(encrypted, age_session) == doc


def test_unencrypted_suffix_keeps_marked_keys_plain(
    sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    doc = secret(string_data={"password": "hunter2-plain", "note_unencrypted": "visible"})
    encrypted = encrypt_manifest(sops_cli, doc, age=[age_key.recipient], extra=["--unencrypted-suffix", "_unencrypted"])
    assert encrypted["stringData"]["note_unencrypted"] == "visible"
    assert str(encrypted["stringData"]["password"]).startswith("ENC[")
    assert str(encrypted["kind"]).startswith("ENC[")  # everything else is encrypted, kind included
    assert decrypt_manifest(encrypted, age_session) == doc


def test_pgp_encrypted_secret(sops_cli: SopsCli, pgp_key: PgpTestKey, tmp_path: Path) -> None:
    doc = secret(string_data={"password": "pgp-plain"})
    encrypted = encrypt_manifest(sops_cli, doc, pgp=[pgp_key.fingerprint], extra=REGEX)
    key_file = tmp_path / "key.asc"
    key_file.write_bytes(pgp_key.armored_secret)
    with SopsSession(KeyRing.from_files([key_file])) as session:
        assert decrypt_manifest(encrypted, session) == doc


def test_two_recipients_one_key_held(
    sops_cli: SopsCli, age_key: AgeKey, other_age_key: AgeKey, age_session: SopsSession
) -> None:
    doc = secret(string_data={"password": "shared-plain"})
    encrypted = encrypt_manifest(sops_cli, doc, age=[other_age_key.recipient, age_key.recipient], extra=REGEX)
    assert decrypt_manifest(encrypted, age_session) == doc


def test_whole_document_configmap_and_typed_values(
    sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "apps"},
        "data": {"url": "postgres://plain"},
    }
    custom = {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"replicas": 3, "enabled": True, "ratio": 0.5, "items": ["a", "b"]},
    }
    enc_cm = encrypt_manifest(sops_cli, doc, age=[age_key.recipient], extra=["--encrypted-regex", "^data$"])
    enc_cr = encrypt_manifest(sops_cli, custom, age=[age_key.recipient], extra=["--encrypted-regex", "^spec$"])
    assert decrypt_manifest(enc_cm, age_session) == doc
    assert decrypt_manifest(enc_cr, age_session) == custom


def test_mac_is_not_checked_on_built_resources(sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession) -> None:
    """kustomize adds labels/namespaces to the encrypted document; Flux still decrypts it."""
    doc = secret(string_data={"password": "hunter2-plain"})
    built = encrypt_manifest(sops_cli, doc, age=[age_key.recipient], extra=REGEX)
    built["metadata"]["labels"] = {"app.kubernetes.io/part-of": "shop"}
    built["metadata"]["namespace"] = "prod"
    cipher = json.dumps(built).encode()
    with pytest.raises(MacMismatch):  # the MAC really is broken ...
        age_session.decrypt(cipher, input_type="json", output_type="json")
    out = decrypt_manifest(built, age_session)  # ... and is ignored here
    assert out["stringData"] == {"password": "hunter2-plain"}
    assert out["metadata"]["labels"] == {"app.kubernetes.io/part-of": "shop"}
    assert "sops" not in out


def test_tampered_ciphertext_is_an_error(sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession) -> None:
    encrypted = encrypt_manifest(
        sops_cli, secret(string_data={"password": "hunter2-plain"}), age=[age_key.recipient], extra=REGEX
    )
    value = encrypted["stringData"]["password"]
    data = value.split("data:", 1)[1].split(",", 1)[0]
    flipped = ("B" if data[0] != "B" else "C") + data[1:]
    encrypted["stringData"]["password"] = value.replace(f"data:{data},", f"data:{flipped},")
    with pytest.raises(DecryptError) as caught:
        decrypt_manifest(encrypted, age_session, subject=KS, location=SourceLocation("apps/db.yaml"))
    line = caught.value.one_line()
    assert "Secret/apps/db" in line and "apps/db.yaml" in line and "Kustomization/flux-system/apps" in line
    assert "failed authentication" in line


def test_wrong_key_lists_needed_and_provided(
    sops_cli: SopsCli, age_key: AgeKey, other_age_key: AgeKey, pgp_key: PgpTestKey
) -> None:
    encrypted = encrypt_manifest(
        sops_cli,
        secret(string_data={"password": "x-plain"}),
        age=[age_key.recipient],
        pgp=[pgp_key.fingerprint],
        extra=REGEX,
    )
    wrong = KeyRing.from_env({"SOPS_AGE_KEY": other_age_key.identity})
    with SopsSession(wrong) as session, pytest.raises(DecryptError) as caught:
        decrypt_manifest(encrypted, session, subject=KS)
    message = caught.value.one_line()
    assert "no key matches" in message
    assert f"needs {age_key.recipient} or PGP {pgp_key.fingerprint}" in message
    assert f"provided: {other_age_key.recipient}" in message


@pytest.mark.parametrize("value", ["disabled", "Disabled", "DISABLED"])
def test_decrypt_disabled_annotation(value: str, sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession) -> None:
    encrypted = encrypt_manifest(sops_cli, secret(string_data={"p": "x-plain"}), age=[age_key.recipient], extra=REGEX)
    encrypted["metadata"]["annotations"] = {"kustomize.toolkit.fluxcd.io/decrypt": value}
    assert not needs_decryption(encrypted)
    assert decrypt_manifest(encrypted, age_session) is encrypted


def test_objects_without_sops_pass_through_untouched(age_session: SopsSession) -> None:
    plain = secret(data={"a": base64.b64encode(b"not sops").decode(), "bad": "%%%"})
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "sops": {"mac": ""}}
    for doc in (plain, deployment):
        assert not needs_decryption(doc)
        assert decrypt_manifest(doc, age_session) is doc


def _plain_files() -> dict[str, tuple[str, bytes, Callable[[bytes], Any]]]:
    """data key -> (sops format, plaintext, normaliser to compare decrypted output)."""
    ini = b"[db]\nuser = app\npassword = ini-plain\n"

    def read_ini(raw: bytes) -> dict[str, dict[str, str]]:
        parser = configparser.ConfigParser()
        parser.read_string(raw.decode())
        return {s: dict(parser[s]) for s in parser.sections()}

    return {
        "app.yaml": ("yaml", b"user: app\npassword: yaml-plain\nport: 5432\n", yamlio.load),
        "app.json": ("json", b'{"user": "app", "password": "json-plain"}', json.loads),
        "app.env": ("dotenv", b"USER=app\nPASSWORD=env-plain\n", bytes),
        "app.ini": ("ini", ini, read_ini),
        "blob": ("binary", BINARY_BLOB, bytes),
        ".dockerconfigjson": ("json", b'{"auths": {"r.example": {"auth": "ZG9ja2VyLXBsYWlu"}}}', json.loads),
    }


def test_secret_generator_outputs_decrypt_through_data_markers(
    tmp_path: Path, sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    files = _plain_files()
    for key, (fmt, plain, _) in files.items():
        (tmp_path / f"{key}.enc").write_bytes(sops_cli.encrypt(plain, fmt, age=[age_key.recipient]))
    sources = [f"{key}={key}.enc" for key in files]
    (tmp_path / "kustomization.yaml").write_text(
        yamlio.dump(
            {
                "secretGenerator": [{"name": "app", "namespace": "apps", "files": sources}],
                "generatorOptions": {"disableNameSuffixHash": True},
            }
        )
    )
    [generated] = yamlio.load_all(kustomize_build(tmp_path))
    assert secret_values_encrypted(generated)
    out = decrypt_manifest(generated, age_session, subject=KS)
    for key, (_, plain, normalise) in files.items():
        assert normalise(base64.b64decode(out["data"][key])) == normalise(plain), key


def test_data_value_mac_mismatch_warns_or_fails_when_strict(
    sops_cli: SopsCli, age_key: AgeKey, age_ring: KeyRing
) -> None:
    cipher = sops_cli.encrypt(b"NOTE_unencrypted=v1\nPASSWORD=env-plain\n", "dotenv", age=[age_key.recipient])
    edited = cipher.replace(b"NOTE_unencrypted=v1", b"NOTE_unencrypted=v2")
    doc = secret(data={"app.env": base64.b64encode(edited).decode()})
    with SopsSession(age_ring) as session:
        out = decrypt_manifest(doc, session, subject=KS)
        assert base64.b64decode(out["data"]["app.env"]) == b"NOTE_unencrypted=v2\nPASSWORD=env-plain\n"
        [warning] = session.diagnostics
        assert "MAC mismatch" in warning.one_line() and "data 'app.env'" in warning.one_line()
    with SopsSession(age_ring, strict_mac=True) as session, pytest.raises(MacMismatch):
        decrypt_manifest(doc, session, subject=KS)


def test_decrypt_manifests_keeps_order_and_untouched_objects(
    sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    docs: list[dict[str, Any]] = []
    for i in range(6):
        plain = secret(f"s{i}", string_data={"v": f"value-{i}-plain"})
        docs.append(encrypt_manifest(sops_cli, plain, age=[age_key.recipient], extra=REGEX) if i % 2 else plain)
    out = decrypt_manifests(docs, age_session, subject=KS)
    assert [o["metadata"]["name"] for o in out] == [f"s{i}" for i in range(6)]
    assert [o["stringData"]["v"] for o in out] == [f"value-{i}-plain" for i in range(6)]
    assert all(out[i] is docs[i] for i in range(0, 6, 2))


def test_without_decryption_spec_warns_as_flux_behaves(sops_cli: SopsCli, age_key: AgeKey) -> None:
    enc_secret = encrypt_manifest(sops_cli, secret(string_data={"p": "x-plain"}), age=[age_key.recipient], extra=REGEX)
    enc_cm = encrypt_manifest(
        sops_cli,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
        age=[age_key.recipient],
        extra=["--encrypted-regex", "^data$"],
    )
    assert flux_refuses_apply(enc_secret) and not flux_refuses_apply(enc_cm)
    refused = undecrypted_warning(enc_secret, subject=KS)
    applied = undecrypted_warning(enc_cm, subject=KS)
    assert refused is not None and "Flux refuses to apply it" in refused.one_line()
    assert applied is not None and "apply the ciphertext" in applied.one_line()
    assert undecrypted_warning(secret(string_data={"p": "x"})) is None


def test_encrypted_paths_lists_enc_leaves(sops_cli: SopsCli, age_key: AgeKey) -> None:
    doc = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "r"},
        "spec": {"values": {"password": "pw-plain", "hosts": ["a", "b"], "port": 80}},
    }
    encrypted = encrypt_manifest(sops_cli, doc, age=[age_key.recipient], extra=["--encrypted-regex", "^values$"])
    assert sorted(encrypted_paths(encrypted), key=str) == [
        ("spec", "values", "hosts", 0),
        ("spec", "values", "hosts", 1),
        ("spec", "values", "password"),
        ("spec", "values", "port"),
    ]
    assert encrypted_paths(doc) == []


def test_leaves_filled_with_secret_variables_are_the_changed_ones_holding_a_value() -> None:
    before = {
        "data": {"url": "postgres://app:${password}@db", "token": "${token}", "plain": "staging"},
        "spec": {"ports": ["${port}"], "fixed": "s3cr3t-literal"},
    }
    after = {
        "data": {"url": "postgres://app:s3cr3t-pw@db", "token": "s3cr3t-tok", "plain": "staging"},
        "spec": {"ports": [8443], "fixed": "s3cr3t-literal", "added": "s3cr3t-tok"},
    }
    values = frozenset({"s3cr3t-pw", "s3cr3t-tok", "8443", "s3cr3t-literal"})
    assert leaves_filled_with(before, after, values) == [
        ("data", "url"),  # part of a longer string
        ("data", "token"),
        ("spec", "ports", 0),  # re-parsed as a number after substitution
        ("spec", "added"),  # a leaf the substitution created
    ]  # "fixed" held the same text before substitution: not from a variable
