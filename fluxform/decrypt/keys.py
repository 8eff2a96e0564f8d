"""Decryption keys: age identities and armored PGP secret keys, from files, env or a Secret.

A `KeyRing` is the only source of keys fluxform hands to sops, so an error can say exactly
which keys were tried. Keys are named as Flux names them in its decryption Secret:
`*.agekey` holds age identities (one per line, `#` comments), `*.asc` an armored OpenPGP
private key. age identities are validated with pyrage where it can parse them; a
post-quantum (`AGE-SECRET-KEY-PQ-1`) or plugin identity is kept as is and left to sops.
Nothing here ever shows key material: reprs and messages carry recipients, fingerprints
and file names only.

    ring = KeyRing.merged(KeyRing.from_files([Path("age.agekey")]), KeyRing.from_env(os.environ))
    ring.age_recipients()   # ['age1...']
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyrage

from fluxform import yamlio
from fluxform.decrypt.gpghome import gnupg_home
from fluxform.errors import DecryptError
from fluxform.limits import read_limited
from fluxform.objects import SourceLocation

__all__ = [
    "AGE_KEY_EXT",
    "PGP_KEY_EXT",
    "AgeIdentity",
    "KeyRing",
    "PgpKey",
    "keyring_from_keys_dir",
    "parse_age_identities",
]

AGE_KEY_EXT = ".agekey"
PGP_KEY_EXT = ".asc"

_X25519_PREFIX = "AGE-SECRET-KEY-1"
_PQ_PREFIX = "AGE-SECRET-KEY-PQ-1"
_PLUGIN_PREFIX = "AGE-PLUGIN-"
_PGP_PRIVATE_HEADER = b"-----BEGIN PGP PRIVATE KEY BLOCK-----"
_PGP_PUBLIC_HEADER = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
# Secret entries Flux understands but fluxform does not use (cloud KMS / Vault credentials).
_OTHER_FLUX_ENTRIES = frozenset({"sops.vault-token", "sops.aws-kms", "sops.azure-kv", "sops.gcp-kms"})


@dataclass(frozen=True, slots=True)
class AgeIdentity:
    """One age identity line. `recipient` is "" when pyrage cannot derive it (PQ, plugin)."""

    secret: str = field(repr=False)
    recipient: str
    origin: str

    def __repr__(self) -> str:
        return f"AgeIdentity(recipient={self.label()!r}, origin={self.origin!r})"

    def label(self) -> str:
        """How messages name this identity: its recipient, or its kind when unknown."""
        if self.recipient:
            return self.recipient
        if self.secret.startswith(_PQ_PREFIX):
            return "post-quantum age identity"
        return "age plugin identity"


@dataclass(frozen=True, slots=True)
class PgpKey:
    """One armored OpenPGP secret key block (which may hold several keys)."""

    armored: bytes = field(repr=False)
    fingerprints: tuple[str, ...]  # primary key fingerprints, uppercase hex
    subkey_fingerprints: tuple[str, ...]
    origin: str

    def __repr__(self) -> str:
        return f"PgpKey(fingerprints={list(self.fingerprints)!r}, origin={self.origin!r})"


@dataclass(frozen=True)
class KeyRing:
    """Every private key one decryption may use. Immutable; combine rings with `merged`."""

    age: tuple[AgeIdentity, ...] = ()
    pgp: tuple[PgpKey, ...] = ()
    #: Flux decryption-Secret entries that were skipped (cloud KMS / Vault credentials).
    skipped: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"KeyRing(age={self.age_recipients()!r}, pgp={self.pgp_fingerprints()!r})"

    @property
    def is_empty(self) -> bool:
        return not self.age and not self.pgp

    def age_recipients(self) -> list[str]:
        """Public keys of the age identities (labels for those pyrage cannot read), sorted."""
        return sorted({identity.label() for identity in self.age})

    def pgp_fingerprints(self) -> list[str]:
        """Primary and subkey fingerprints of every PGP key, sorted."""
        return sorted({fp for key in self.pgp for fp in (*key.fingerprints, *key.subkey_fingerprints)})

    def describe(self) -> str:
        """The provided keys for an error message: recipients and primary fingerprints."""
        parts = self.age_recipients() + [f"PGP {fp}" for fp in sorted({f for k in self.pgp for f in k.fingerprints})]
        return ", ".join(parts) if parts else "no keys"

    @classmethod
    def merged(cls, *rings: KeyRing) -> KeyRing:
        """Union of rings, first occurrence kept, duplicates (same secret) dropped."""
        age: dict[str, AgeIdentity] = {}
        pgp: dict[bytes, PgpKey] = {}
        skipped: dict[str, None] = {}
        for ring in rings:
            for identity in ring.age:
                age.setdefault(identity.secret, identity)
            for key in ring.pgp:
                pgp.setdefault(key.armored, key)
            skipped.update(dict.fromkeys(ring.skipped))
        return cls(tuple(age.values()), tuple(pgp.values()), tuple(skipped))

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> KeyRing:
        """`--decryption-key FILE`: `*.agekey` / `*.asc`, other names judged by content."""
        age: list[AgeIdentity] = []
        pgp_blocks: list[tuple[bytes, str]] = []
        for path in paths:
            data = _read_key_file(path)
            if _is_pgp(path.name, data):
                pgp_blocks.append((data, str(path)))
            else:
                age.extend(parse_age_identities(data.decode("utf-8", "replace"), origin=str(path)))
        return cls(tuple(age), _load_pgp_keys(pgp_blocks))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KeyRing:
        """sops' own variables: SOPS_AGE_KEY (identities, several per line) and SOPS_AGE_KEY_FILE."""
        age: list[AgeIdentity] = []
        inline = environ.get("SOPS_AGE_KEY", "")
        if inline.strip():
            age.extend(parse_age_identities(inline, origin="SOPS_AGE_KEY", several_per_line=True))
        key_file = environ.get("SOPS_AGE_KEY_FILE", "")
        if key_file:
            text = _read_key_file(Path(key_file)).decode("utf-8", "replace")
            age.extend(parse_age_identities(text, origin=f"SOPS_AGE_KEY_FILE={key_file}"))
        return cls(tuple(age))

    @classmethod
    def from_secret_manifest(cls, doc: Mapping[str, Any], origin: SourceLocation | str) -> KeyRing:
        """The Secret named by a Kustomization's `spec.decryption.secretRef`, as Flux reads it."""
        name = _secret_name(doc)
        where = f"Secret {name} ({origin})"
        if isinstance(doc.get("sops"), Mapping):
            raise DecryptError(
                f"{where} is itself SOPS-encrypted",
                hint="give the decryption Secret in plain form (it never leaves this machine), "
                "or pass the keys with --decryption-key",
            )
        age: list[AgeIdentity] = []
        pgp_blocks: list[tuple[bytes, str]] = []
        skipped: list[str] = []
        for entry, value in sorted(_secret_entries(doc, where).items()):
            label = f"{where} entry {entry!r}"
            if entry.endswith(AGE_KEY_EXT):
                age.extend(parse_age_identities(value.decode("utf-8", "replace"), origin=label))
            elif entry.endswith(PGP_KEY_EXT):
                pgp_blocks.append((value, label))
            elif entry in _OTHER_FLUX_ENTRIES:
                skipped.append(label)
        return cls(tuple(age), _load_pgp_keys(pgp_blocks), tuple(skipped))


def parse_age_identities(text: str, *, origin: str, several_per_line: bool = False) -> list[AgeIdentity]:
    """Identity lines of an age key file; blank and `#` lines skipped, anything else refused."""
    if text.lstrip().startswith(("age-encryption.org/", "-----BEGIN AGE ENCRYPTED FILE-----")):
        raise DecryptError(
            f"{origin}: passphrase-protected age identity files are not supported",
            hint="decrypt it once with `age -d` into a private file, as Flux needs plain identities too",
        )
    identities: list[AgeIdentity] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for word in line.split() if several_per_line else [line]:
            identities.append(_parse_age_identity(word, origin=origin, line=number))
    if not identities:
        raise DecryptError(f"{origin}: no age identity found", hint="expected lines starting with AGE-SECRET-KEY-1")
    return identities


def _parse_age_identity(word: str, *, origin: str, line: int) -> AgeIdentity:
    upper = word.upper()
    if upper.startswith(_PQ_PREFIX) or upper.startswith(_PLUGIN_PREFIX):
        return AgeIdentity(secret=word, recipient="", origin=origin)
    if not upper.startswith(_X25519_PREFIX):
        raise DecryptError(
            f"{origin}: line {line} is not an age identity",
            hint="age key files hold AGE-SECRET-KEY-1... lines (public age1... keys cannot decrypt)",
        )
    recipient = _x25519_recipient(word)
    if recipient is None:
        raise DecryptError(f"{origin}: line {line} is not a valid age identity (bad checksum or length)")
    return AgeIdentity(secret=word, recipient=recipient, origin=origin)


def _x25519_recipient(word: str) -> str | None:
    """The public key of an X25519 identity, or None when pyrage refuses it.

    pyrage's exception is dropped here, outside any raise, so no traceback can carry it."""
    try:
        return str(pyrage.x25519.Identity.from_str(word).to_public())
    except Exception:  # pyrage.IdentityError and friends
        return None


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DecryptError(f"cannot read key file {path}", detail=exc.strerror or type(exc).__name__) from None


def _is_pgp(name: str, data: bytes) -> bool:
    if name.endswith(PGP_KEY_EXT):
        return True
    if name.endswith(AGE_KEY_EXT):
        return False
    return _PGP_PRIVATE_HEADER in data or _PGP_PUBLIC_HEADER in data


def _load_pgp_keys(blocks: Sequence[tuple[bytes, str]]) -> tuple[PgpKey, ...]:
    """Read fingerprints of each block in a throwaway GnuPG home; public-only keys refused."""
    if not blocks:
        return ()
    keys: list[PgpKey] = []
    with gnupg_home() as home:
        for armored, origin in blocks:
            if _PGP_PRIVATE_HEADER not in armored:
                raise DecryptError(
                    f"{origin}: not an armored PGP private key",
                    hint="export it with gpg --armor --export-secret-keys FINGERPRINT",
                )
            infos = home.scan(armored, origin=origin)
            if not any(info.secret for info in infos):
                raise DecryptError(f"{origin}: holds only public PGP keys, which cannot decrypt")
            keys.append(
                PgpKey(
                    armored=armored,
                    fingerprints=tuple(sorted({i.fingerprint for i in infos if i.fingerprint})),
                    subkey_fingerprints=tuple(sorted({s for i in infos for s in i.subkeys})),
                    origin=origin,
                )
            )
    return tuple(keys)


def _secret_name(doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        meta = {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or "?"
    return f"{namespace}/{name}" if namespace else str(name)


def _secret_entries(doc: Mapping[str, Any], where: str) -> dict[str, bytes]:
    """`data` (base64) and `stringData` entries, stringData winning as the API server does."""
    if doc.get("kind") != "Secret":
        raise DecryptError(f"{where} is a {doc.get('kind')!r}, not a Secret")
    entries: dict[str, bytes] = {}
    data = doc.get("data") or {}
    string_data = doc.get("stringData") or {}
    if not isinstance(data, Mapping) or not isinstance(string_data, Mapping):
        raise DecryptError(f"{where}: data and stringData must be mappings")
    for key, value in data.items():
        try:
            entries[str(key)] = base64.b64decode(str(value or "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError(f"{where}: data entry {str(key)!r} is not valid base64") from None
    for key, value in string_data.items():
        entries[str(key)] = str(value or "").encode("utf-8")
    return entries


def keyring_from_keys_dir(keys_dir: Path, *, namespace: str, name: str) -> KeyRing | None:
    """The decryption Secret `namespace/name` found in YAML/JSON files under `--keys-dir`.

    A Secret without a namespace matches any; one with the exact namespace is preferred.
    Returns None when no file holds it (the caller then looks in the cluster or fails)."""
    if not keys_dir.is_dir():
        raise DecryptError(f"keys directory {keys_dir} does not exist")
    loose: tuple[dict[str, Any], Path] | None = None
    for path in sorted(p for p in keys_dir.rglob("*") if p.suffix in {".yaml", ".yml", ".json"} and p.is_file()):
        for doc in _load_manifests(path):
            meta = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else None
            if doc.get("kind") != "Secret" or meta is None or meta.get("name") != name:
                continue
            found_namespace = meta.get("namespace") or ""
            if found_namespace == namespace:
                return KeyRing.from_secret_manifest(doc, str(path))
            if not found_namespace and loose is None:
                loose = (doc, path)
    return None if loose is None else KeyRing.from_secret_manifest(loose[0], str(loose[1]))


def _load_manifests(path: Path) -> list[dict[str, Any]]:
    try:
        docs = yamlio.load_all(read_limited(path))
    except yamlio.YamlError as exc:
        raise DecryptError(f"{path}: not valid YAML", detail=f"line {exc.line}" if exc.line else "") from None
    except OSError as exc:
        raise DecryptError(f"cannot read {path}", detail=exc.strerror or "") from None
    return [doc for doc in docs if isinstance(doc, dict)]
