# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""No plaintext, MAC or key material in any message, repr or exception chain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fluxform.decrypt import KeyRing, SopsSession, decrypt_manifest, sops_executable
from fluxform.errors import DecryptError
from fluxform.tool import run_tool
from tests.support.ids import ks
from tests.support.keys import AgeKey
from tests.support.sops import SopsCli, encrypt_manifest, secret

PLAIN = "LEAKCHECK-hunter2-plaintext"
KS = ks("apps")


def _everything_shown(exc: BaseException) -> str:
    """Every text a user or a log could see of an exception, causes and contexts included."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), *(str(a) for a in current.args)]
        if isinstance(current, DecryptError):
            parts += [current.one_line(), current.detail, current.hint]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _sops_stderr(cipher: bytes, identity: str) -> str:
    """What sops itself prints for this input (to prove we do not pass it on)."""
    sops = sops_executable()
    assert sops is not None
    argv = [
        sops,
        "--disable-version-check",
        "--config",
        "/dev/null",
        "decrypt",
        "--input-type",
        "dotenv",
        "--output-type",
        "dotenv",
    ]
    return run_tool(argv, tool="sops", stdin=cipher, env={"SOPS_AGE_KEY": identity}, check=False).stderr.decode()


def test_mac_mismatch_message_hides_the_macs(sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession) -> None:
    cipher = sops_cli.encrypt(f"NOTE_unencrypted=v1\nPASSWORD={PLAIN}\n".encode(), "dotenv", age=[age_key.recipient])
    edited = cipher.replace(b"=v1", b"=v2")
    macs = re.findall(r"[0-9A-F]{128}", _sops_stderr(edited, age_key.identity))
    assert len(macs) == 2, "sops prints the stored and computed MAC (a hash of the plaintext)"
    with pytest.raises(DecryptError) as caught:
        age_session.decrypt(edited, input_type="dotenv", output_type="dotenv")
    shown = _everything_shown(caught.value)
    assert "MAC mismatch" in shown
    assert not any(mac in shown for mac in macs) and PLAIN not in shown


def test_clear_text_value_where_ciphertext_belongs(
    sops_cli: SopsCli, age_key: AgeKey, age_session: SopsSession
) -> None:
    cipher = sops_cli.encrypt(b"PASSWORD=placeholder\n", "dotenv", age=[age_key.recipient])
    broken = re.sub(rb"PASSWORD=ENC\[[^\]]*\]", f"PASSWORD={PLAIN}".encode(), cipher)
    assert PLAIN in _sops_stderr(broken, age_key.identity), "sops quotes the offending value"
    with pytest.raises(DecryptError) as caught:
        age_session.decrypt(broken, input_type="dotenv", output_type="dotenv", ignore_mac=True)
    assert PLAIN not in _everything_shown(caught.value)


def test_wrong_key_message_shows_recipients_only(sops_cli: SopsCli, age_key: AgeKey, other_age_key: AgeKey) -> None:
    encrypted = encrypt_manifest(
        sops_cli,
        secret(string_data={"p": PLAIN}),
        age=[age_key.recipient],
        extra=["--encrypted-regex", "^(data|stringData)$"],
    )
    with SopsSession(KeyRing.from_env({"SOPS_AGE_KEY": other_age_key.identity})) as session:
        shown_session = repr(session)
        with pytest.raises(DecryptError) as caught:
            decrypt_manifest(encrypted, session, subject=KS)
    shown = _everything_shown(caught.value) + shown_session
    assert other_age_key.recipient in shown
    assert other_age_key.identity not in shown and age_key.identity not in shown and PLAIN not in shown


def _mangled(identity: str, how: str) -> str:
    if how == "truncated":
        return identity[:-5]
    return identity[:-1] + ("Q" if identity[-1] != "Q" else "P")  # breaks the bech32 checksum


@pytest.mark.parametrize("how", ["bad checksum", "truncated"])
def test_malformed_identity_is_never_echoed(tmp_path: Path, age_key: AgeKey, how: str) -> None:
    bad = _mangled(age_key.identity, how)
    path = tmp_path / "bad.agekey"
    path.write_text(bad + "\n")
    with pytest.raises(DecryptError) as caught:
        KeyRing.from_files([path])
    shown = _everything_shown(caught.value)
    assert bad not in shown and bad[16:40] not in shown and str(path) in shown
