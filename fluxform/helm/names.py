"""Helm release names and namespaces as helm-controller derives them from a HelmRelease.

Source: helm-controller api/v2 `GetReleaseName`/`GetReleaseNamespace`/`GetStorageNamespace`
and internal/release/name.go `ShortenName`.

    release_name_for("podinfo", target_namespace="apps", release_name="")  # "apps-podinfo"
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_RELEASE_NAME", "release_name_for", "release_namespace_for", "shorten_name"]

#: Helm's limit on release names; longer computed names are shortened with a hash.
MAX_RELEASE_NAME = 53
_SHORT_HASH = 12


def shorten_name(name: str) -> str:
    """Names over 53 bytes become the first 40 bytes + '-' + 12 hex of sha256(name).

    Go slices bytes, so a multi-byte character can be cut; names are DNS labels in
    practice, so the byte cut is done on the UTF-8 encoding and decoded leniently."""
    raw = name.encode("utf-8")
    if len(raw) <= MAX_RELEASE_NAME:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:_SHORT_HASH]
    prefix = raw[: MAX_RELEASE_NAME - (_SHORT_HASH + 1)].decode("utf-8", "replace")
    return f"{prefix}-{digest}"


def release_name_for(name: str, *, target_namespace: str, release_name: str) -> str:
    """`spec.releaseName`, else `<targetNamespace>-<name>`, else `<name>`; then shortened."""
    if release_name:
        full = release_name
    elif target_namespace:
        full = f"{target_namespace}-{name}"
    else:
        full = name
    return shorten_name(full)


def release_namespace_for(namespace: str, *, target_namespace: str) -> str:
    """`spec.targetNamespace`, else the HelmRelease's own namespace."""
    return target_namespace or namespace
