"""Throwaway GnuPG homes: private, in memory when possible, agent stopped on exit.

PGP secret keys are imported with python-gnupg into a fresh GNUPGHOME (mode 0700) that
nothing else uses; sops later decrypts through the same home. GnuPG starts a `gpg-agent`
per home the moment a secret key is touched, so leaving the home always stops that agent
(`gpgconf --kill gpg-agent`) before removing the directory. The agent is told never to
ask for a passphrase (Flux supports only unprotected keys), so nothing can hang on a prompt.

    with gnupg_home() as home:
        fingerprints = home.import_secret_keys(armored, origin="keys/flux.asc")
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gnupg

from fluxform.decrypt.tmpfs import private_dir
from fluxform.errors import DecryptError, ToolError
from fluxform.tool import find_executable, run_tool

__all__ = ["GnupgHome", "PgpKeyInfo", "gnupg_home"]


@dataclass(frozen=True, slots=True)
class PgpKeyInfo:
    """What a key block holds: primary fingerprint, subkey fingerprints, secret or not."""

    fingerprint: str
    subkeys: tuple[str, ...]
    secret: bool


class GnupgHome:
    """A private GNUPGHOME; create it with `gnupg_home()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._gpg: Any = None

    def _client(self) -> Any:
        if self._gpg is None:
            gpg_binary = find_executable("gpg")
            if gpg_binary is None:
                raise DecryptError(
                    "PGP keys were given but gpg (GnuPG) is not installed",
                    hint="install gnupg (Debian: apt-get install gnupg), or use age keys",
                )
            try:
                self._gpg = gnupg.GPG(gpgbinary=gpg_binary, gnupghome=str(self.path))
            except (OSError, ValueError) as exc:
                raise DecryptError("gpg could not be started", detail=type(exc).__name__) from exc
        return self._gpg

    def scan(self, armored: bytes, *, origin: str) -> list[PgpKeyInfo]:
        """The keys in an armored block, without importing them."""
        found = self._client().scan_keys_mem(armored.decode("ascii", "replace"))
        keys = [
            PgpKeyInfo(
                fingerprint=str(entry.get("fingerprint") or ""),
                subkeys=tuple(str(sub[2]) for sub in entry.get("subkeys", []) if len(sub) > 2 and sub[2]),
                secret=entry.get("type") == "sec",
            )
            for entry in found
        ]
        if not keys:
            raise DecryptError(
                f"{origin}: no OpenPGP key found", hint="export it with gpg --armor --export-secret-keys FP"
            )
        return keys

    def import_secret_keys(self, armored: bytes, *, origin: str) -> list[str]:
        """Import an armored secret key block; returns the fingerprints gpg imported."""
        result = self._client().import_keys(armored.decode("ascii", "replace"))
        if not result.count or not (result.sec_imported or result.sec_read):
            raise DecryptError(
                f"{origin}: gpg imported no secret key",
                hint="the file must be an armored OpenPGP *private* key without passphrase",
            )
        return sorted({str(fp) for fp in result.fingerprints if fp})

    def stop_agent(self) -> None:
        """Stop this home's gpg-agent (a no-op when none runs) and drop its socket dir."""
        gpgconf = find_executable("gpgconf")
        if gpgconf is None:
            return
        env = {"GNUPGHOME": str(self.path)}
        for args in (["--kill", "gpg-agent"], ["--remove-socketdir"]):
            with contextlib.suppress(ToolError):
                run_tool([gpgconf, *args], tool="gpgconf", env=env, timeout=30, check=False)


@contextlib.contextmanager
def gnupg_home() -> Iterator[GnupgHome]:
    """A fresh private GNUPGHOME, on tmpfs when available; agent stopped and dir removed on exit."""
    with private_dir(require_tmpfs=False) as scratch:
        path = scratch / "gnupg"
        path.mkdir(mode=0o700)
        _write_agent_config(path)
        home = GnupgHome(path)
        try:
            yield home
        finally:
            home.stop_agent()
            shutil.rmtree(path, ignore_errors=True)


def _write_agent_config(path: Path) -> None:
    """No pinentry: a passphrase-protected key fails at once instead of waiting for a prompt."""
    false_binary = shutil.which("false") or "/bin/false"
    (path / "gpg-agent.conf").write_text(f"pinentry-program {false_binary}\n", encoding="utf-8")
