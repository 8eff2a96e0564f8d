"""Secrets in the plan pipeline: which keys decrypt which Kustomization, and masking.

Flux reads a Kustomization's keys from the Secret named by `spec.decryption.secretRef` in
its namespace. Offline, that Secret comes from `--keys-dir` (a directory of Secret
manifests); `--decryption-key` files and SOPS_AGE_KEY / SOPS_AGE_KEY_FILE add keys every
Kustomization may use. One sops session (private GNUPGHOME) per key set, closed at the end.

Masking key: the state's own random key when there is a state; else one derived from all
private keys given (stable across runs, useless without the keys); else a constant, which
is safe because without keys nothing was decrypted (values shown are the repository's).

    with FleetSecrets(SecretOptions(keys_dir=Path("fixtures/keys"))) as secrets:
        desired = discover(path, DiscoverOptions(decryptor=secrets))
        masking = secrets.masking(state)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fluxform import yamlio
from fluxform.decrypt import (
    KeyRing,
    Masker,
    SopsSession,
    decrypt_generator_sources,
    decrypt_manifests,
    derive_mask_key,
    find_encrypted_generator_sources,
    keyring_from_keys_dir,
    private_tmpfs_dir,
)
from fluxform.decrypt.generators import plaintext_values
from fluxform.decrypt.macs import SourceMacs
from fluxform.decrypt.plaintexts import Plaintexts
from fluxform.decrypt.resource import has_sops_metadata
from fluxform.errors import DecryptError, Diagnostic, FluxformError, MissingKeys
from fluxform.objects import ObjectId
from fluxform.planner.kustomization.spec import FluxKustomization
from fluxform.planner.plan import Masking
from fluxform.state.model import StateFile

__all__ = ["FleetSecrets", "SecretOptions"]

_NO_KEY_MASK = hashlib.sha256(b"fluxform/mask-key/no-keys").digest()


@dataclass(frozen=True)
class SecretOptions:
    decryption_keys: tuple[Path, ...] = ()  # --decryption-key (age *.agekey, PGP *.asc)
    keys_dir: Path | None = None  # --keys-dir: Secret manifests named like spec.decryption.secretRef
    use_env: bool = True  # read SOPS_AGE_KEY / SOPS_AGE_KEY_FILE


class FleetSecrets:
    """Decrypts for the planner (postbuild.Decryptor) and gives the masking function."""

    def __init__(self, options: SecretOptions) -> None:
        self.options = options
        rings = [KeyRing.from_files(options.decryption_keys)]
        if options.use_env:
            rings.append(KeyRing.from_env(os.environ))
        self.base = KeyRing.merged(*rings)
        self._sessions: dict[str, SopsSession] = {}
        self._stack = contextlib.ExitStack()
        self.plaintexts = Plaintexts()  # every value decrypted, for scrubbing messages
        self._error_masker: Masker | None = None
        self._roots: dict[ObjectId, Path] = {}  # source root each Kustomization builds from
        self._macs = SourceMacs()
        self._mac_warnings: list[Diagnostic] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        """Close the sessions; an error leaving the block is scrubbed of decrypted values
        first (whatever built it: a Helm schema check, kustomize, a YAML parser)."""
        try:
            if isinstance(ev, FluxformError):
                self.scrub_error(ev)
        finally:
            self._sessions.clear()
            self._stack.close()

    def scrub(self, text: str) -> str:
        """`text` with every value decrypted so far masked (see decrypt/plaintexts.py)."""
        if not self.plaintexts or not text:
            return text
        if self._error_masker is None:
            self._error_masker = Masker(self.mask_key(None))
        return self.plaintexts.scrub(text, self._error_masker)

    def scrub_error(self, error: FluxformError) -> None:
        """Mask decrypted values in an error's words, in place (it is re-raised as is)."""
        if not self.plaintexts:
            return
        error.summary, error.detail = self.scrub(error.summary), self.scrub(error.detail)
        error.hint = self.scrub(error.hint)
        error.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in error.args)

    def scrub_diagnostics(self, diagnostics: Sequence[Diagnostic]) -> tuple[Diagnostic, ...]:
        if not self.plaintexts:
            return tuple(diagnostics)
        return tuple(replace(d, summary=self.scrub(d.summary), detail=self.scrub(d.detail)) for d in diagnostics)

    def _keyring_for(self, ks: FluxKustomization) -> tuple[str, KeyRing]:
        ref = (ks.decryption or {}).get("secretRef") or {}
        name = str(ref.get("name") or "") if isinstance(ref, Mapping) else ""
        ring = self.base
        if name and self.options.keys_dir is not None:
            found = keyring_from_keys_dir(self.options.keys_dir, namespace=ks.id.namespace, name=name)
            if found is not None:
                ring = KeyRing.merged(ring, found)
        if ring.is_empty:
            wanted = f"Secret {ks.id.namespace}/{name}" if name else "keys"
            raise MissingKeys(
                f"no decryption keys for this Kustomization (it needs {wanted})",
                subject=ks.id,
                location=ks.origin,
                hint="pass --keys-dir DIR holding that Secret manifest, or --decryption-key FILE, "
                "or set SOPS_AGE_KEY_FILE",
            )
        return f"{ks.id.namespace}/{name}", ring

    def session_for(self, ks: FluxKustomization) -> SopsSession:
        key, ring = self._keyring_for(ks)
        if key not in self._sessions:
            self._sessions[key] = self._stack.enter_context(SopsSession(ring, plaintexts=self.plaintexts))
        return self._sessions[key]

    def decrypt_all(self, manifests: Sequence[Mapping[str, Any]], ks: FluxKustomization) -> list[dict[str, Any]]:
        """Decrypt independent resources in parallel (one sops process each)."""
        session = self.session_for(ks)
        decrypted = [
            dict(m)
            for m in decrypt_manifests(manifests, session, subject=ks.id, locations=[ks.origin] * len(manifests))
        ]
        root = self._roots.get(ks.id)
        if root is not None:
            whole = [m for m in manifests if has_sops_metadata(m)]
            self._mac_warnings += self._macs.check(whole, root=root, session=session, subject=ks.id)
        return decrypted

    def needs_source_decryption(self, ks: FluxKustomization, directory: Path, root: Path) -> bool:
        self._roots[ks.id] = root  # where its encrypted files are, for their MAC check
        if ks.decryption is None:
            return False
        return any(s.needs_predecryption for s in find_encrypted_generator_sources(directory, root))

    @contextlib.contextmanager
    def decrypted_tree(
        self, ks: FluxKustomization, directory: Path, root: Path
    ) -> Iterator[tuple[Path, frozenset[str]]]:
        """A private tmpfs copy of `root` with the build's encrypted generator inputs decrypted
        in place, `files:` included, exactly as kustomize-controller's DecryptSources does;
        and the values they decrypted to (in memory, for masking)."""
        sources = find_encrypted_generator_sources(directory, root)
        with private_tmpfs_dir() as scratch:
            copy = scratch / "artifact"
            _copy_tree(root, copy)
            decrypt_generator_sources(sources, self.session_for(ks), copy, subject=ks.id)
            yield copy, plaintext_values(sources, copy)

    def mask_key(self, state: StateFile | None) -> bytes:
        if state is not None:
            return state.mask_key_bytes()
        rings = [self.base]
        if self.options.keys_dir is not None and self.options.keys_dir.is_dir():
            rings += _all_key_secrets(self.options.keys_dir)
        return derive_mask_key(KeyRing.merged(*rings)) or _NO_KEY_MASK

    def keys_identity(self) -> str:
        """A one-way name for the keys this run holds (which owners decrypt, and the
        masking key), for keying what a render kept between runs: the same keys give the
        same name, other keys (or none) another. Hashes of private key material only."""
        digest = hashlib.sha256(b"fluxform/keys-identity/v1\0")
        digest.update(self.mask_key(None))
        keys_dir = self.options.keys_dir
        if keys_dir is not None and keys_dir.is_dir():  # which Secret name holds which keys
            for path in sorted(p for p in keys_dir.rglob("*") if p.is_file()):
                digest.update(f"{path.relative_to(keys_dir).as_posix()}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def masking(self, state: StateFile | None) -> Masking:
        masker = Masker(self.mask_key(state))

        def mask(manifest: Mapping[str, Any], paths: Sequence[tuple[str | int, ...]] = ()) -> dict[str, Any]:
            return masker.mask_manifest(manifest, sensitive_paths=paths)

        return mask

    def diagnostics(self) -> list[Diagnostic]:
        """Warnings from sops sessions and source files (MAC mismatches Flux would ignore)."""
        return [*(d for session in self._sessions.values() for d in session.diagnostics), *self._mac_warnings]


def _copy_tree(src: Path, dest: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        (dest / rel).mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in filenames:
            (dest / rel / name).write_bytes((Path(dirpath) / name).read_bytes())


def _all_key_secrets(keys_dir: Path) -> list[KeyRing]:
    rings = []
    for path in sorted(p for p in keys_dir.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            docs = yamlio.load_all(path.read_bytes())
        except yamlio.YamlError:
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                with contextlib.suppress(DecryptError):
                    rings.append(KeyRing.from_secret_manifest(doc, str(path)))
    return rings
