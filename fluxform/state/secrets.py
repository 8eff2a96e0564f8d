"""Secret values in state: masked in the manifest, age-encrypted beside it, or left out.

A state file is shared (CI artifacts, cluster Secrets), so a Secret's `data`/`stringData`
never appear in it as plaintext. The manifest keeps masked fingerprints (so digests and
`state show` still say *that* a value changed); the values themselves are either encrypted
to the state's age recipients (rollback decrypts them with an identity) or omitted, and then
rollback re-renders them from the owner's recorded source revision.

    obj = secret_state_object(oid, "v1", masked=masked, plain=plain, recipients=["age1..."])
    manifest = restore_secret_manifest(obj, identities=["AGE-SECRET-KEY-1..."])
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyrage

from fluxform.errors import StateError
from fluxform.objects import ObjectId
from fluxform.state.model import StateObject, canonical_digest, canonical_json

__all__ = [
    "MASK_PREFIX",
    "check_plaintext_free",
    "parse_recipients",
    "restore_secret_manifest",
    "seal_secret_values",
    "secret_state_object",
    "unseal_secret_values",
]

#: Every masked value starts with this (decrypt/mask.py writes `***(<fingerprint>)`).
MASK_PREFIX = "***"
_VALUE_SECTIONS = ("data", "stringData")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def parse_recipients(recipients: Sequence[str]) -> list[Any]:
    """age X25519 (`age1...`) or SSH (`ssh-ed25519 ...`, `ssh-rsa ...`) public keys."""
    parsed: list[Any] = []
    for text in recipients:
        text = text.strip()
        try:
            if text.startswith("ssh-"):
                parsed.append(pyrage.ssh.Recipient.from_str(text))
            else:
                parsed.append(pyrage.x25519.Recipient.from_str(text))
        except (pyrage.RecipientError, ValueError) as exc:
            raise StateError(
                f"state recipient {text!r} is not an age or SSH public key",
                detail=str(exc),
                hint="recipients look like age1... (age-keygen -y KEYFILE) or ssh-ed25519 AAAA...",
            ) from exc
    return parsed


def _parse_identities(identities: Sequence[str]) -> list[Any]:
    """age X25519 identities and unencrypted OpenSSH private keys; other kinds (post-quantum,
    plugins) pyrage cannot read are skipped, not refused."""
    parsed: list[Any] = []
    for text in identities:
        text = text.strip()
        try:
            if text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----"):
                parsed.append(pyrage.ssh.Identity.from_buffer(text.encode()))
            else:
                parsed.append(pyrage.x25519.Identity.from_str(text))
        except (pyrage.IdentityError, ValueError):
            continue
    return parsed


def seal_secret_values(plain: Mapping[str, Any], recipients: Sequence[str]) -> str:
    """Encrypt a Secret's `data` and `stringData` to the recipients; base64 of the age file."""
    values = {section: dict(plain.get(section) or {}) for section in _VALUE_SECTIONS}
    ciphertext = pyrage.encrypt(canonical_json(values).encode(), parse_recipients(recipients))
    return base64.b64encode(ciphertext).decode("ascii")


def unseal_secret_values(sealed: str, identities: Sequence[str], subject: ObjectId) -> dict[str, Any]:
    """Decrypt what `seal_secret_values` made; StateError when no identity matches."""
    keys = _parse_identities(identities)
    if not keys:
        raise StateError(
            "no age identity to decrypt the Secret values kept in state",
            subject=subject,
            hint="pass the identity for one of the state's recipients (SOPS_AGE_KEY_FILE)",
        )
    try:
        plaintext = pyrage.decrypt(base64.b64decode(sealed, validate=True), keys)
        values = json.loads(plaintext)
    except (pyrage.DecryptError, binascii.Error, ValueError) as exc:
        raise StateError(
            "cannot decrypt the Secret values kept in state",
            subject=subject,
            detail=type(exc).__name__,
            hint="none of the given age identities matches the state's recipients",
        ) from exc
    if not isinstance(values, dict):
        raise StateError("the Secret values kept in state are malformed", subject=subject)
    return values


def secret_state_object(
    oid: ObjectId,
    api_version: str,
    *,
    masked: Mapping[str, Any],
    plain: Mapping[str, Any] | None,
    recipients: Sequence[str],
) -> StateObject:
    """The state record of a Secret: digest over the masked form; values sealed when there
    are recipients and a plaintext manifest, otherwise omitted (rollback re-renders them)."""
    sealed = seal_secret_values(plain, recipients) if recipients and plain is not None else None
    obj = StateObject(oid, api_version, canonical_digest(masked), masked, sealed)
    check_plaintext_free(obj, origin="new state")
    return obj


def restore_secret_manifest(obj: StateObject, identities: Sequence[str]) -> dict[str, Any]:
    """The Secret as it was applied, values decrypted (in memory only, for rollback)."""
    if obj.manifest is None or obj.sealed_values is None:
        raise StateError(
            "state kept no values for this Secret",
            subject=obj.id,
            hint="re-render it from the owner's recorded source revision",
        )
    values = unseal_secret_values(obj.sealed_values, identities, obj.id)
    manifest = {k: v for k, v in obj.manifest.items() if k not in _VALUE_SECTIONS}
    for section in _VALUE_SECTIONS:
        if values.get(section):
            manifest[section] = dict(values[section])
    return manifest


def check_plaintext_free(obj: StateObject, origin: str) -> None:
    """Refuse a Secret manifest holding a value that is not masked: state must never
    carry plaintext, whoever built the record."""
    if not obj.is_secret or obj.manifest is None:
        return
    for section in _VALUE_SECTIONS:
        values = obj.manifest.get(section) or {}
        if not isinstance(values, Mapping):
            raise StateError(f"{origin}: Secret {section} is not a mapping", subject=obj.id)
        for key, value in values.items():
            if not (isinstance(value, str) and value.startswith(MASK_PREFIX)):
                raise StateError(
                    f"{origin}: Secret {section}.{key} is not masked; refusing to store plaintext",
                    subject=obj.id,
                    hint="mask Secret values (decrypt/mask.py) before recording them in state",
                )
    annotations = (obj.manifest.get("metadata") or {}).get("annotations") or {}
    if _LAST_APPLIED in annotations:
        raise StateError(
            f"{origin}: Secret carries {_LAST_APPLIED}, which holds its values in plaintext",
            subject=obj.id,
            hint="normalise manifests (drop that annotation) before recording them in state",
        )
