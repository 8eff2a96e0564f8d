"""Throwaway GnuPG homes: private, in memory when possible, agent stopped on exit.

PGP secret keys are imported with gpg into a fresh GNUPGHOME (mode 0700) that nothing
else uses; sops later decrypts through the same home. GnuPG starts a `gpg-agent`
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

from fluxform.cancellation import shielded
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
    """A private GNUPGHOME; create it with `gnupg_home()`.

    gpg runs through `run_tool` like every other program (its own process group, limits,
    killed when the run is stopped by a signal), with machine-readable output (--with-colons,
    --status-fd) parsed here."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _gpg(self, args: list[str], stdin: bytes) -> bytes:
        gpg_binary = find_executable("gpg")
        if gpg_binary is None:
            raise DecryptError(
                "PGP keys were given but gpg (GnuPG) is not installed",
                hint="install gnupg (Debian: apt-get install gnupg), or use age keys",
            )
        argv = [gpg_binary, "--homedir", str(self.path), "--batch", "--no-tty", *args]
        result = run_tool(argv, tool="gpg", stdin=stdin, env={"GNUPGHOME": str(self.path)}, timeout=60, check=False)
        return result.stdout

    def scan(self, armored: bytes, *, origin: str) -> list[PgpKeyInfo]:
        """The keys in an armored block, without importing them."""
        listing = self._gpg(["--with-colons", "--import-options", "show-only", "--import"], armored)
        keys = _parse_listing(listing.decode("utf-8", "replace"))
        if not keys:
            raise DecryptError(
                f"{origin}: no OpenPGP key found", hint="export it with gpg --armor --export-secret-keys FP"
            )
        return keys

    def import_secret_keys(self, armored: bytes, *, origin: str) -> list[str]:
        """Import an armored secret key block; returns the fingerprints gpg imported."""
        status = self._gpg(["--status-fd", "1", "--import"], armored).decode("utf-8", "replace")
        fingerprints: set[str] = set()
        secret_read = secret_imported = 0
        for line in status.splitlines():
            fields = line.split()
            if fields[:2] == ["[GNUPG:]", "IMPORT_OK"] and len(fields) > 3:
                fingerprints.add(fields[3])
            elif fields[:2] == ["[GNUPG:]", "IMPORT_RES"] and len(fields) > 12:
                secret_read, secret_imported = int(fields[11]), int(fields[12])
        if not fingerprints or not (secret_read or secret_imported):
            raise DecryptError(
                f"{origin}: gpg imported no secret key",
                hint="the file must be an armored OpenPGP *private* key without passphrase",
            )
        return sorted(fingerprints)

    def stop_agent(self) -> None:
        """Stop this home's gpg-agent (a no-op when none runs) and drop its socket dir."""
        gpgconf = find_executable("gpgconf")
        if gpgconf is None:
            return
        env = {"GNUPGHOME": str(self.path)}
        for args in (["--kill", "gpg-agent"], ["--remove-socketdir"]):
            with contextlib.suppress(ToolError):
                run_tool([gpgconf, *args], tool="gpgconf", env=env, timeout=30, check=False, cleanup=True)


def _parse_listing(listing: str) -> list[PgpKeyInfo]:
    """`--with-colons` records: a `pub`/`sec` line starts a key, `fpr` lines give the
    fingerprint of the key or subkey (`sub`/`ssb`) just before them."""
    keys: list[PgpKeyInfo] = []
    current: dict[str, Any] | None = None
    last = ""
    for line in listing.splitlines():
        fields = line.split(":")
        record = fields[0]
        if record in ("pub", "sec"):
            if current is not None:
                keys.append(_key_info(current))
            current = {"secret": record == "sec", "fingerprint": "", "subkeys": []}
        elif record == "fpr" and current is not None and len(fields) > 9:
            if last in ("pub", "sec"):
                current["fingerprint"] = fields[9]
            elif last in ("sub", "ssb"):
                current["subkeys"].append(fields[9])
        if record != "fpr" and record != "grp":
            last = record
    if current is not None:
        keys.append(_key_info(current))
    return keys


def _key_info(found: dict[str, Any]) -> PgpKeyInfo:
    return PgpKeyInfo(str(found["fingerprint"]), tuple(found["subkeys"]), bool(found["secret"]))


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
            with shielded():  # a signal must not leave the agent running or the keys behind
                home.stop_agent()
                shutil.rmtree(path, ignore_errors=True)


def _write_agent_config(path: Path) -> None:
    """No pinentry: a passphrase-protected key fails at once instead of waiting for a prompt."""
    false_binary = shutil.which("false") or "/bin/false"
    (path / "gpg-agent.conf").write_text(f"pinentry-program {false_binary}\n", encoding="utf-8")
