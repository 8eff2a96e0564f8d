"""Keyed digests of rendered objects, so an index can tell that an input did not change.

A Flux Kustomization or HelmRelease renders from its own object (as its parent renders
it), the files it reads and the objects it looks up. The changed-only index keeps a digest
of the first and the last, so an owner whose parent (or whose looked-up object's owner)
renders again need not render itself when what it takes from it is the same bytes.

The digest is an HMAC-SHA256 under the run's masking key (derived from the decryption
keys: see FleetSecrets.mask_key), never a bare hash: an object may hold a decrypted value,
and a keyed digest of it says nothing about the value to anyone without the keys.

    digest = ObjectDigest(secrets.mask_key(None))
    digest({"apiVersion": "v1", "kind": "ConfigMap", ...})   # "hmac-sha256:3f9a..."
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ObjectDigest"]


class ObjectDigest:
    """The keyed digest of one manifest: equal manifests (whatever their key order), equal
    digests. Holds the key, never shows it."""

    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "ObjectDigest(key=<hidden>)"

    def __call__(self, body: Mapping[str, Any]) -> str:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
        return "hmac-sha256:" + hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()
