"""Decrypting built resources, exactly where kustomize-controller's `DecryptResource` does.

Two cases, tried in order, both skipped when the object is annotated
`kustomize.toolkit.fluxcd.io/decrypt: disabled` (value compared case-insensitively):

1. Any kind whose top level has a `sops` map with a non-empty `mac` is decrypted whole,
   through sops' JSON store, **without** MAC verification: kustomize has added labels,
   namespaces and prefixes to the encrypted document, so its MAC no longer matches.
2. Otherwise a `Secret`'s `.data` values that contain a SOPS marker (a whole encrypted file
   put there by a secretGenerator) are decrypted one by one: input format from the marker,
   output format from the data key's extension. The file is untouched by kustomize, so its
   MAC is checked; a mismatch warns (Flux would not notice) unless the session is strict.

Everything else passes through as the same object.

    with SopsSession(ring) as session:
        docs = decrypt_manifests(docs, session, subject=ks_id, location=SourceLocation("apps"))
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fluxform.decrypt.formats import SopsFormat, format_for_path, format_from_markers
from fluxform.decrypt.sops import SopsSession
from fluxform.errors import DecryptError, Diagnostic
from fluxform.objects import ObjectId, SourceLocation

__all__ = [
    "DECRYPT_ANNOTATION",
    "decrypt_manifest",
    "decrypt_manifests",
    "encrypted_paths",
    "flux_refuses_apply",
    "has_sops_metadata",
    "is_decryption_disabled",
    "needs_decryption",
    "secret_values_encrypted",
    "undecrypted_warning",
]

DECRYPT_ANNOTATION = "kustomize.toolkit.fluxcd.io/decrypt"
_ENC_PREFIX = "ENC[AES256_GCM,"


def has_sops_metadata(manifest: Mapping[str, Any]) -> bool:
    """Top-level `sops` map with a non-empty `mac` (Flux's isSOPSEncryptedResource)."""
    meta = manifest.get("sops")
    return isinstance(meta, Mapping) and bool(meta.get("mac"))


def is_decryption_disabled(manifest: Mapping[str, Any]) -> bool:
    metadata = manifest.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(DECRYPT_ANNOTATION) if isinstance(annotations, Mapping) else None
    return isinstance(value, str) and value.lower() == "disabled"


def secret_values_encrypted(manifest: Mapping[str, Any]) -> bool:
    """A Secret (any apiVersion) with a `.data` value holding a SOPS-encrypted file."""
    return bool(_encrypted_data_entries(manifest))


def needs_decryption(manifest: Mapping[str, Any]) -> bool:
    """Whether `decrypt_manifest` would call sops for this object."""
    if is_decryption_disabled(manifest):
        return False
    return has_sops_metadata(manifest) or secret_values_encrypted(manifest)


def encrypted_paths(manifest: Mapping[str, Any]) -> list[tuple[str | int, ...]]:
    """Paths of the `ENC[...]` leaves of a whole-document SOPS object (before decryption).

    After decryption these leaves hold plaintext in kinds other than Secret (an encrypted
    ConfigMap or HelmRelease values); pass them to `Masker.mask_manifest` to hide them."""
    found: list[tuple[str | int, ...]] = []

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if path or key != "sops":
                    walk(value, (*path, str(key)))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, index))
        elif isinstance(node, str) and node.startswith(_ENC_PREFIX):
            found.append(path)

    if has_sops_metadata(manifest):
        walk(manifest, ())
    return found


def flux_refuses_apply(manifest: Mapping[str, Any]) -> bool:
    """Flux's last check before apply: a v1 Secret still carrying `sops` fails the whole apply
    (unless annotated `decrypt: disabled`), whether or not decryption is configured."""
    return (
        manifest.get("kind") == "Secret"
        and manifest.get("apiVersion") == "v1"
        and "sops" in manifest
        and not is_decryption_disabled(manifest)
    )


def undecrypted_warning(
    manifest: Mapping[str, Any], *, subject: ObjectId | None = None, location: SourceLocation | None = None
) -> Diagnostic | None:
    """For a Kustomization *without* `spec.decryption`: what Flux would do with SOPS data.

    fluxform does not decrypt it either (Flux would not); the caller shows this loudly."""
    obj = ObjectId.from_manifest(manifest)
    if flux_refuses_apply(manifest):
        summary = (
            f"{obj} is SOPS-encrypted but the Kustomization has no spec.decryption: "
            "Flux refuses to apply it (configuring decryption is required)"
        )
    elif needs_decryption(manifest):
        summary = (
            f"{obj} holds SOPS-encrypted data but the Kustomization has no spec.decryption: "
            "Flux would apply the ciphertext as is"
        )
    else:
        return None
    return Diagnostic(summary, subject=subject, location=location)


def decrypt_manifest(
    manifest: Mapping[str, Any],
    session: SopsSession,
    *,
    subject: ObjectId | None = None,
    location: SourceLocation | None = None,
) -> Mapping[str, Any]:
    """The object with its SOPS data decrypted (a new dict), or `manifest` itself when there is
    nothing to decrypt. `subject` is the Kustomization, `location` the file, for messages."""
    if is_decryption_disabled(manifest):
        return manifest
    if has_sops_metadata(manifest):
        return _decrypt_whole(manifest, session, subject, location)
    entries = _encrypted_data_entries(manifest)
    if not entries:
        return manifest
    data = dict(manifest["data"])
    for key, (raw, fmt) in entries.items():
        data[key] = base64.b64encode(_decrypt_value(manifest, key, raw, fmt, session, subject, location)).decode()
    decrypted = dict(manifest)
    decrypted["data"] = data
    return decrypted


def decrypt_manifests(
    manifests: Sequence[Mapping[str, Any]],
    session: SopsSession,
    *,
    subject: ObjectId | None = None,
    locations: Sequence[SourceLocation | None] | None = None,
    workers: int | None = None,
) -> list[Mapping[str, Any]]:
    """`decrypt_manifest` over many objects, sops calls run in parallel, order kept."""
    where = list(locations) if locations is not None else [None] * len(manifests)
    pending = [i for i, m in enumerate(manifests) if needs_decryption(m)]
    out = list(manifests)
    if not pending:
        return out
    pool_size = workers or min(len(pending), max(2, (os.cpu_count() or 1) * 2), 16)
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        futures = {
            i: pool.submit(decrypt_manifest, manifests[i], session, subject=subject, location=where[i]) for i in pending
        }
        for i, future in futures.items():
            out[i] = future.result()
    return out


def _decrypt_whole(
    manifest: Mapping[str, Any], session: SopsSession, subject: ObjectId | None, location: SourceLocation | None
) -> dict[str, Any]:
    obj = ObjectId.from_manifest(manifest)
    try:
        cipher = json.dumps(manifest, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        raise DecryptError(
            f"cannot decrypt {obj}: the object holds values JSON cannot carry", subject=subject, location=location
        ) from None
    plain = session.decrypt(
        cipher,
        input_type=SopsFormat.JSON,
        output_type=SopsFormat.JSON,
        ignore_mac=True,
        subject=subject,
        location=location,
        what=str(obj),
    )
    try:
        decrypted = json.loads(plain)
    except ValueError:
        raise DecryptError(
            f"cannot decrypt {obj}: sops returned invalid JSON", subject=subject, location=location
        ) from None
    if not isinstance(decrypted, dict):
        raise DecryptError(f"cannot decrypt {obj}: sops returned a non-object", subject=subject, location=location)
    return decrypted


def _decrypt_value(
    manifest: Mapping[str, Any],
    key: str,
    raw: bytes,
    fmt: SopsFormat,
    session: SopsSession,
    subject: ObjectId | None,
    location: SourceLocation | None,
) -> bytes:
    return session.decrypt_like_flux(
        raw,
        input_type=fmt,
        output_type=format_for_path(key),
        subject=subject,
        location=location,
        what=f"{ObjectId.from_manifest(manifest)} data {key!r}",
    )


def _encrypted_data_entries(manifest: Mapping[str, Any]) -> dict[str, tuple[bytes, SopsFormat]]:
    """Secret `.data` entries whose decoded bytes carry a SOPS marker: key -> (bytes, format).

    Values that are not valid base64 are left for the API server to reject, as Flux does."""
    if manifest.get("kind") != "Secret" or not isinstance(manifest.get("data"), Mapping):
        return {}
    found: dict[str, tuple[bytes, SopsFormat]] = {}
    for key, value in manifest["data"].items():
        if not isinstance(value, str):
            continue
        try:
            raw = base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            continue
        fmt = format_from_markers(raw)
        if fmt is not None:
            found[str(key)] = (raw, fmt)
    return found


LeafPath = tuple[str | int, ...]


def _leaves(node: Any, path: LeafPath = ()) -> Iterator[tuple[LeafPath, Any]]:
    """(path, value) of every scalar leaf below `node`."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


_ABSENT = object()  # no leaf at that path before


def _value_at(node: Any, path: LeafPath) -> Any:
    """The value at `path` below `node`, or _ABSENT."""
    for key in path:
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if not (key in node if isinstance(node, Mapping) else in_list):
            return _ABSENT
        node = node[key]
    return node


def leaves_holding(manifest: Mapping[str, Any], values: frozenset[str]) -> list[LeafPath]:
    """Paths of the string leaves of `manifest` equal to one of `values` (plaintext a
    decrypted generator input put there), to be masked like Secret values."""
    return [path for path, leaf in _leaves(manifest) if isinstance(leaf, str) and leaf in values]


def leaves_filled_with(before: Mapping[str, Any], after: Mapping[str, Any], values: frozenset[str]) -> list[LeafPath]:
    """Paths of the leaves of `after` (a manifest after postBuild substitution) that
    substitution changed and that now hold one of `values` (a variable taken from a Secret),
    whole or as part of a longer string (`postgres://app:${password}@db`), to be masked like
    Secret values. Leaves the manifest already had are left alone."""
    found: list[LeafPath] = []
    for path, leaf in _leaves(after):
        if leaf is None or leaf == _value_at(before, path):
            continue
        text = leaf if isinstance(leaf, str) else str(leaf)
        if text in values or (isinstance(leaf, str) and any(v in text for v in values)):
            found.append(path)
    return found
