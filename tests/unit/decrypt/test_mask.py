# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""Masker: keyed fingerprints instead of secret values; derive_mask_key for state-less plans."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from fluxform.decrypt import KeyRing, Masker, derive_mask_key, new_mask_key, secret_plaintexts
from fluxform.decrypt.mask import FINGERPRINT_HEX_CHARS, LAST_APPLIED_ANNOTATION
from tests.support.keys import AgeKey, PgpTestKey
from tests.support.sops import secret

KEY = bytes(range(32))


def test_fingerprint_is_stable_per_key_and_changes_with_the_value() -> None:
    masker = Masker(KEY)
    assert masker.fingerprint(b"hunter2") == Masker(KEY).fingerprint(b"hunter2")
    assert masker.fingerprint(b"hunter2") != masker.fingerprint(b"hunter3")
    assert masker.fingerprint(b"hunter2") != Masker(new_mask_key()).fingerprint(b"hunter2")
    assert len(masker.fingerprint(b"")) == FINGERPRINT_HEX_CHARS


def test_fingerprint_is_keyed_not_a_bare_hash() -> None:
    fingerprint = Masker(KEY).fingerprint(b"hunter2")
    for algorithm in ("sha256", "sha512", "sha1", "md5"):
        assert not hashlib.new(algorithm, b"hunter2").hexdigest().startswith(fingerprint)


def test_mask_secret_data_and_string_data_alike() -> None:
    masker = Masker(KEY)
    doc = secret(
        data={"password": base64.b64encode(b"hunter2").decode(), "bad": "%%%"},
        string_data={"password2": "hunter2", "port": 5432},
    )
    doc["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: '{"stringData":{"password2":"hunter2"}}', "a": "b"}
    masked = masker.mask_manifest(doc)
    assert (
        masked["data"]["password"] == masked["stringData"]["password2"] == f"***(hmac:{masker.fingerprint(b'hunter2')})"
    )
    assert masked["data"]["bad"] == masker.mask_value("%%%")
    assert masked["stringData"]["port"] == masker.mask_value("5432")
    assert "hunter2" not in str(masked)
    assert masked["metadata"]["annotations"]["a"] == "b"
    assert doc["stringData"]["password2"] == "hunter2"  # input untouched


def test_other_kinds_untouched_unless_paths_given() -> None:
    masker = Masker(KEY)
    release = {"kind": "HelmRelease", "metadata": {"name": "r"}, "spec": {"values": {"pw": "s3cret", "hosts": ["a"]}}}
    assert masker.mask_manifest(release) == release
    masked = masker.mask_manifest(
        release,
        sensitive_paths=[
            ("spec", "values", "pw"),
            ("spec", "values", "hosts", 0),
            ("spec", "nope", "x"),
            ("spec", "values", "hosts", 9),
        ],
    )
    assert masked["spec"]["values"] == {"pw": masker.mask_value("s3cret"), "hosts": [masker.mask_value("a")]}


def test_scrub_masks_known_values_in_text() -> None:
    masker = Masker(KEY)
    doc = secret(data={"p": base64.b64encode(b"hunter2").decode()}, string_data={"q": "abc"})
    text = masker.scrub("user=app password=hunter2 q=abc", secret_plaintexts(doc))
    assert "hunter2" not in text and masker.mask_value("hunter2") in text
    assert text.endswith("q=abc")  # too short to scrub without mangling text


def test_derive_mask_key_is_stable_and_needs_the_private_keys(
    age_key: AgeKey, other_age_key: AgeKey, pgp_key: PgpTestKey, tmp_path: Path
) -> None:
    asc = tmp_path / "k.asc"
    asc.write_bytes(pgp_key.armored_secret)
    ring = KeyRing.merged(KeyRing.from_env({"SOPS_AGE_KEY": age_key.identity}), KeyRing.from_files([asc]))
    reordered = KeyRing.merged(KeyRing.from_files([asc]), KeyRing.from_env({"SOPS_AGE_KEY": age_key.identity}))
    key = derive_mask_key(ring)
    assert key is not None and len(key) == 32
    assert derive_mask_key(reordered) == key
    assert derive_mask_key(KeyRing.from_env({"SOPS_AGE_KEY": other_age_key.identity})) != key
    assert derive_mask_key(KeyRing()) is None


def test_masker_never_shows_its_key() -> None:
    assert KEY.hex() not in repr(Masker(KEY)) and str(KEY) not in repr(Masker(KEY))
    with pytest.raises(ValueError):
        Masker(b"short")


def test_plaintexts_scrub_every_printed_form_and_fragments() -> None:
    """What decryption revealed is masked in any message: whole, JSON-escaped, base64, as Go
    prints a line's bytes, and without the `*` a YAML parser read as an alias."""
    import base64

    from fluxform.decrypt.formats import SopsFormat
    from fluxform.decrypt.plaintexts import Plaintexts, revealed_values

    plaintexts = Plaintexts()
    cipher = b'{"kind": "Secret", "stringData": {"a": "ENC[AES256_GCM,data:x]", "b": "plain-value"}}'
    plain = b'{"kind": "Secret", "stringData": {"a": "*Al1asSecret\\"quoted", "b": "plain-value"}}'
    plaintexts.add(revealed_values(cipher, plain, SopsFormat.JSON, SopsFormat.JSON))
    env_cipher = b"TOKEN=ENC[AES256_GCM,data:y]\n"
    env_plain = b"TOKEN=\xff\xfeBinS3cret\n"
    plaintexts.add(revealed_values(env_cipher, env_plain, SopsFormat.DOTENV, SopsFormat.DOTENV))
    masker = Masker(b"k" * 32)
    secret = '*Al1asSecret"quoted'
    messages = [
        f"schema: at '/a': '{secret}' does not match",
        'json: "*Al1asSecret\\"quoted"',
        "b64: " + base64.b64encode(secret.encode()).decode(),
        "found undefined alias 'Al1asSecret\"quoted'",
        "line [84 79 75 69 78 61 255 254 66 105 110 83 51 99 114 101 116] has invalid utf8 bytes",
    ]
    for message in messages:
        scrubbed = plaintexts.scrub(message, masker)
        assert "***(hmac:" in scrubbed, message
        assert "Al1asSecret" not in scrubbed and "BinS3cret" not in scrubbed
        assert "66 105 110 83 51" not in scrubbed
    ordinary = "plain-value stays, and so do Al1as and kind Secret"  # no fragment matching
    assert plaintexts.scrub(ordinary, masker) == ordinary
