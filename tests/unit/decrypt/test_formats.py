# Keys are generated at test time (pyrage / gpg in a private GNUPGHOME); nothing secret is committed.
"""Format rules (sops FormatForPath, Flux's marker detection) and recipients read from metadata."""

from __future__ import annotations

import pytest

from fluxform.decrypt import SopsFormat, format_for_path, format_from_markers, recipients_of

FORMAT_FOR_PATH = {
    "app.yaml": SopsFormat.YAML,
    "app.yml": SopsFormat.YAML,
    "app.json": SopsFormat.JSON,
    "app.env": SopsFormat.DOTENV,
    "app.ini": SopsFormat.INI,
    ".dockerconfigjson": SopsFormat.JSON,
    "config.dockerconfigjson": SopsFormat.JSON,
    "id_rsa": SopsFormat.BINARY,
    "app.yaml.bak": SopsFormat.BINARY,
    "dir.yaml/key": SopsFormat.BINARY,
}


@pytest.mark.parametrize(("path", "expected"), FORMAT_FOR_PATH.items(), ids=FORMAT_FOR_PATH.keys())
def test_format_for_path(path: str, expected: SopsFormat) -> None:
    assert format_for_path(path) is expected


MARKERS = {
    "yaml": (b"a: ENC[x]\nsops:\n    mac: ENC[AES256_GCM,data:x]\n", SopsFormat.YAML),
    "json": (b'{"sops": {"mac": "ENC[AES256_GCM,data:x]"}}', SopsFormat.JSON),
    "dotenv": (b"A=ENC[x]\nsops_mac=ENC[AES256_GCM,data:x]\n", SopsFormat.DOTENV),
    "ini": (b"[s]\na = x\n[sops]\nmac = ENC[x]\n", SopsFormat.INI),
    "plain": (b"password: hunter2\nmac: none\n", None),
    "empty mac": (b'{"sops": {"mac": ""}}', None),
}


@pytest.mark.parametrize(("data", "expected"), MARKERS.values(), ids=MARKERS.keys())
def test_format_from_markers(data: bytes, expected: SopsFormat | None) -> None:
    assert format_from_markers(data) is expected


KEY_GROUPS_YAML = b"""
a: ENC[x]
sops:
    key_groups:
        - age:
            - recipient: age1first
              enc: x
          pgp:
            - fp: AAAA
        - kms:
            - arn: arn:aws:kms:eu-west-1:1:key/k
              enc: x
    shamir_threshold: 2
    mac: ENC[x]
"""

KEY_GROUPS_DOTENV = b"""A=ENC[x]
sops_key_groups__list_0__map_age__list_0__map_recipient=age1first
sops_key_groups__list_0__map_age__list_0__map_enc=x
sops_key_groups__list_1__map_pgp__list_0__map_fp=AAAA
sops_key_groups__list_1__map_hc_vault__list_0__map_vault_address=https://vault
sops_key_groups__list_1__map_hc_vault__list_0__map_engine_path=sops
sops_key_groups__list_1__map_hc_vault__list_0__map_key_name=k
sops_mac=ENC[x]
"""


def test_recipients_from_key_groups() -> None:
    from_yaml = recipients_of(KEY_GROUPS_YAML, SopsFormat.YAML)
    assert from_yaml.describe() == "age1first or PGP AAAA or AWS KMS arn:aws:kms:eu-west-1:1:key/k"
    from_dotenv = recipients_of(KEY_GROUPS_DOTENV, SopsFormat.DOTENV)
    assert from_dotenv.describe() == "age1first or PGP AAAA or Vault https://vault/sops/k"


def test_recipients_of_unreadable_metadata_is_empty() -> None:
    assert recipients_of(b"{not json", SopsFormat.JSON).describe() == "no recipients listed"
    assert recipients_of(b"a: [", SopsFormat.YAML).describe() == "no recipients listed"
