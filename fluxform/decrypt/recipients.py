"""Who can open a SOPS file: the recipients listed in its (clear-text) `sops` metadata.

Read from the encrypted document only, never from anything decrypted, so a "no key
matches" error can list what the file needs beside what the user provided. dotenv and INI
files flatten the metadata into `sops_age__list_0__map_recipient`-style keys.

    recipients_of(ciphertext, SopsFormat.YAML).describe()   # "age1..., PGP 5577..."
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fluxform import yamlio
from fluxform.decrypt.formats import SopsFormat

__all__ = ["Recipients", "recipients_of"]

# key type -> (label, fields naming the key), for master keys other than age and PGP
_OTHER_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "kms": ("AWS KMS", ("arn",)),
    "gcp_kms": ("GCP KMS", ("resource_id",)),
    "azure_kv": ("Azure Key Vault", ("vault_url", "name")),
    "hc_vault": ("Vault", ("vault_address", "engine_path", "key_name")),
    "hckms": ("HuaweiCloud KMS", ("key_id",)),
}
_FLAT_KEY = re.compile(r"(?:^|__map_)(age|pgp|kms|gcp_kms|azure_kv|hc_vault|hckms)__list_(\d+)__map_(\w+)$")


@dataclass(frozen=True, slots=True)
class Recipients:
    age: tuple[str, ...] = ()  # age public keys (age1..., ssh-...)
    pgp: tuple[str, ...] = ()  # PGP fingerprints as written in the file
    other: tuple[str, ...] = ()  # cloud KMS / Vault keys, labelled

    def describe(self) -> str:
        parts = [*self.age, *(f"PGP {fp}" for fp in self.pgp), *self.other]
        return " or ".join(parts) if parts else "no recipients listed"


def recipients_of(data: bytes, fmt: SopsFormat) -> Recipients:
    """Recipients of an encrypted document; empty when its metadata cannot be read."""
    if fmt in (SopsFormat.DOTENV, SopsFormat.INI):
        return _from_flat(_flat_metadata(data, fmt))
    metadata = _structured_metadata(data, fmt)
    return _from_groups(_key_groups(metadata)) if metadata else Recipients()


def _structured_metadata(data: bytes, fmt: SopsFormat) -> Mapping[str, Any] | None:
    try:
        docs = [json.loads(data)] if fmt in (SopsFormat.JSON, SopsFormat.BINARY) else yamlio.load_all(data)
    except (ValueError, yamlio.YamlError):
        return None
    for doc in docs:
        if isinstance(doc, Mapping) and isinstance(doc.get("sops"), Mapping):
            return doc["sops"]  # type: ignore[no-any-return]
    return None


def _key_groups(metadata: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Top-level key lists form the single group; otherwise `key_groups` (as sops reads it)."""
    if any(metadata.get(kind) for kind in ("age", "pgp", *_OTHER_KEYS)):
        return [metadata]
    groups = metadata.get("key_groups")
    return [g for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else []


def _from_groups(groups: Iterable[Mapping[str, Any]]) -> Recipients:
    age: list[str] = []
    pgp: list[str] = []
    other: list[str] = []
    for group in groups:
        age += [str(k["recipient"]) for k in _entries(group, "age") if k.get("recipient")]
        pgp += [str(k["fp"]) for k in _entries(group, "pgp") if k.get("fp")]
        for kind, (label, fields) in _OTHER_KEYS.items():
            other += [_label(label, k, fields) for k in _entries(group, kind)]
    return Recipients(_unique(age), _unique(pgp), _unique(other))


def _entries(group: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    value = group.get(kind)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _label(label: str, key: Mapping[str, Any], fields: tuple[str, ...]) -> str:
    return f"{label} " + "/".join(str(key.get(f) or "") for f in fields)


def _flat_metadata(data: bytes, fmt: SopsFormat) -> dict[str, str]:
    """`sops_*` dotenv keys (prefix dropped) or the `[sops]` INI section, as a flat map."""
    flat: dict[str, str] = {}
    in_sops_section = False
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if fmt is SopsFormat.INI and line.startswith("["):
            in_sops_section = line == "[sops]"
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            continue
        if fmt is SopsFormat.DOTENV and key.startswith("sops_"):
            flat[key.removeprefix("sops_")] = value.strip()
        elif fmt is SopsFormat.INI and in_sops_section:
            flat[key] = value.strip()
    return flat


def _from_flat(flat: Mapping[str, str]) -> Recipients:
    """Regroup flattened `<group>age__list_<i>__map_<field>` keys into key entries."""
    top_level_only = any(_FLAT_KEY.match(k) for k in flat)  # then sops ignores key_groups
    entries: dict[tuple[str, str, str], dict[str, str]] = {}
    for key, value in flat.items():
        match = _FLAT_KEY.search(key)
        if match is None or (top_level_only and match.start() > 0):
            continue
        kind, index, field_name = match.groups()
        entries.setdefault((key[: match.start()], kind, index), {})[field_name] = value
    groups = [{kind: [entry]} for (_, kind, _), entry in entries.items()]
    return _from_groups(groups)


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
