"""Secret values shown as `***(hmac:…)`: a reviewer sees *that* a value changed, never the value.

The fingerprint is HMAC-SHA256 under a secret key, never a bare hash: a bare hash of a
short password is a dictionary attack away from the password. The key is random per state
(`new_mask_key`, stored with the state); without a state, `derive_mask_key` derives a
stable one from the private decryption keys, so plans are byte-identical across runs yet
fingerprints cannot be recomputed by anyone lacking those keys.

    masker = Masker(new_mask_key())
    masker.mask_manifest(secret)["data"]["password"]   # '***(hmac:3f9a0c21b7d4)'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fluxform import yamlio
from fluxform.decrypt.keys import KeyRing

__all__ = [
    "FINGERPRINT_HEX_CHARS",
    "LAST_APPLIED_ANNOTATION",
    "MASK_KEY_BYTES",
    "Masker",
    "derive_mask_key",
    "is_fingerprint",
    "new_mask_key",
    "secret_plaintexts",
    "unmasked_secret_values",
]

MASK_KEY_BYTES = 32
FINGERPRINT_HEX_CHARS = 12  # 48 bits: a collision (a change shown as no change) is negligible
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
_DERIVE_INFO = b"fluxform/mask-key/v1"
_MIN_SCRUB_LENGTH = 4  # shorter values would mangle ordinary text and reveal little

_FINGERPRINT = re.compile(rf"\*\*\*\(hmac:[0-9a-f]{{{FINGERPRINT_HEX_CHARS}}}\)")

LeafPath = Sequence[str | int]  # keys and list indices from the document root

#: What `flux build` shows instead of SOPS data it did not decrypt (decrypt/buildmask.py):
#: no secret, so shown as is rather than fingerprinted.
_FLUX_BUILD_MASKS = frozenset({b"**SOPS**", b'{"mask":"**SOPS**"}', b"KipTT1BTKio="})


def new_mask_key() -> bytes:
    """A fresh random key, to be kept with the state (it is what makes fingerprints stable)."""
    return secrets.token_bytes(MASK_KEY_BYTES)


def derive_mask_key(keyring: KeyRing) -> bytes | None:
    """A stable key from the private key material (HKDF with a fixed label), None without keys."""
    material = [identity.secret.strip().upper().encode() for identity in keyring.age]
    material += [b"\n".join(line.strip() for line in key.armored.splitlines()) for key in keyring.pgp]
    if not material:
        return None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=MASK_KEY_BYTES, salt=None, info=_DERIVE_INFO)
    return hkdf.derive(b"\x00".join(sorted(set(material))))


class Masker:
    """Replaces secret values by keyed fingerprints; holds the key, never shows it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("mask key must be at least 16 bytes")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "Masker(key=<hidden>)"

    def fingerprint(self, value: bytes) -> str:
        """Short hex of HMAC-SHA256(key, value)."""
        return hmac.new(self._key, value, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX_CHARS]

    def mask_value(self, value: bytes | str) -> str:
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return f"***(hmac:{self.fingerprint(raw)})"

    def mask_manifest(self, manifest: Mapping[str, Any], *, sensitive_paths: Iterable[LeafPath] = ()) -> dict[str, Any]:
        """A copy with Secret `data`/`stringData` values (and the kubectl last-applied copy of
        them) masked, plus any leaf at `sensitive_paths` (e.g. `resource.encrypted_paths`).

        `data` is fingerprinted after base64 decoding, so the same value fingerprints alike in
        `data` and `stringData`. Other kinds come back as plain copies when no path is given."""
        masked: dict[str, Any] = yamlio.clone(dict(manifest))
        if masked.get("kind") == "Secret":
            self._mask_secret(masked)
        for path in sensitive_paths:
            self._mask_path(masked, list(path))
        return masked

    def scrub(self, text: str, plaintexts: Iterable[bytes | str]) -> str:
        """`text` with every occurrence of the given secret values masked (for messages/logs)."""
        values = {v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in plaintexts}
        for value in sorted(values, key=len, reverse=True):
            if len(value) >= _MIN_SCRUB_LENGTH:
                text = text.replace(value, self.mask_value(value))
        return text

    def _mask_secret(self, secret: dict[str, Any]) -> None:
        data = secret.get("data")
        if isinstance(data, dict):
            for key, value in data.items():
                if _decoded(value) not in _FLUX_BUILD_MASKS:
                    data[key] = self.mask_value(_decoded(value))
        string_data = secret.get("stringData")
        if isinstance(string_data, dict):
            for key, value in string_data.items():
                if str(value).encode() not in _FLUX_BUILD_MASKS:
                    string_data[key] = self.mask_value(str(value))
        metadata = secret.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
            annotations[LAST_APPLIED_ANNOTATION] = self.mask_value(str(annotations[LAST_APPLIED_ANNOTATION]))

    def _mask_path(self, node: Any, path: list[str | int]) -> None:
        if not path:
            return
        for step in path[:-1]:
            node = node[step] if _has_child(node, step) else None
        if _has_child(node, path[-1]):
            node[path[-1]] = self.mask_value(str(node[path[-1]]))


def secret_plaintexts(manifest: Mapping[str, Any]) -> list[bytes]:
    """The plaintext values of a decrypted Secret, for `Masker.scrub` of messages about it."""
    if manifest.get("kind") != "Secret":
        return []
    out: list[bytes] = []
    data = manifest.get("data")
    if isinstance(data, Mapping):
        out += [_decoded(v) for v in data.values()]
    string_data = manifest.get("stringData")
    if isinstance(string_data, Mapping):
        out += [str(v).encode("utf-8") for v in string_data.values()]
    return out


def unmasked_secret_values(manifest: Mapping[str, Any]) -> list[str]:
    """Paths of a Secret's values that are not fingerprints (`data.password`): what
    `Masker.mask_manifest` masks, checked by whoever must never hold plaintext. Empty for
    other kinds."""
    if manifest.get("kind") != "Secret":
        return []
    found: list[str] = []
    for section in ("data", "stringData"):
        values = manifest.get(section)
        if isinstance(values, Mapping):
            found += [f"{section}.{key}" for key, value in values.items() if not is_fingerprint(value)]
    annotations = (manifest.get("metadata") or {}).get("annotations")
    last_applied = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, Mapping) else None
    if last_applied is not None and not is_fingerprint(last_applied):
        found.append(f"metadata.annotations[{LAST_APPLIED_ANNOTATION}]")
    return found


def is_fingerprint(value: Any) -> bool:
    """A masked Secret value (`***(hmac:…)`), as views show it."""
    return isinstance(value, str) and _FINGERPRINT.fullmatch(value) is not None


def _decoded(value: Any) -> bytes:
    """Base64 `data` value as bytes; an invalid one is fingerprinted as written."""
    text = str(value if value is not None else "")
    try:
        return base64.b64decode(text.replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")


def _has_child(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return isinstance(step, str) and step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
