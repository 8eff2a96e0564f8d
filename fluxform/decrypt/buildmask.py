"""What `flux build kustomization` shows of SOPS data it did not decrypt.

`fluxform build` without keys shows a Kustomization as Flux's CLI does (its goldens in
fluxcd/flux2 `cmd/flux/testdata/build-kustomization` are the reference): a Secret that is
a SOPS document loses its `sops:` block and every `data`/`stringData` value becomes
`**SOPS**` (base64-encoded in `data`; a `kubernetes.io/dockerconfigjson` Secret gets the
JSON `{"mask":"**SOPS**"}` so it stays valid); in any other Secret, only values holding
SOPS ciphertext (an encrypted generator file) are masked. Other kinds are left as they are,
ciphertext included, as Flux's CLI leaves them.

    shown = mask_like_flux_build(secret)   # shown["data"]["token"] == "KipTT1BTKio="
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from typing import Any

from fluxform import yamlio

__all__ = ["SOPS_MASK", "mask_like_flux_build"]

SOPS_MASK = "**SOPS**"
_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
_B64_MASK = base64.b64encode(SOPS_MASK.encode()).decode()


def mask_like_flux_build(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `manifest` masked as Flux's CLI masks it (see the module docstring)."""
    shown = copy.deepcopy(dict(manifest))
    if shown.get("kind") != "Secret":
        return shown
    data: dict[str, Any] = shown["data"] if isinstance(shown.get("data"), dict) else {}
    string_data: dict[str, Any] = shown["stringData"] if isinstance(shown.get("stringData"), dict) else {}
    text = yamlio.dump(shown)
    if "sops:" in text and "mac: ENC[" in text:  # the whole Secret is a SOPS document
        shown.pop("sops", None)
        if str(shown.get("type") or "Opaque") == _DOCKER_CONFIG_JSON:
            mask = json.dumps({"mask": SOPS_MASK}, separators=(",", ":"))
            data_mask, string_mask = base64.b64encode(mask.encode()).decode(), mask
        else:
            data_mask, string_mask = _B64_MASK, SOPS_MASK
        for key in data:
            data[key] = data_mask
        for key in string_data:
            string_data[key] = string_mask
        return shown
    for key, value in data.items():
        if _holds_ciphertext(_decoded(value)):
            data[key] = _B64_MASK
    for key, value in string_data.items():
        if _holds_ciphertext(str(value).encode()):
            string_data[key] = _B64_MASK  # Flux's CLI writes the base64 form here too
    return shown


def _holds_ciphertext(value: bytes) -> bool:
    return b"sops" in value and b"ENC[" in value


def _decoded(value: Any) -> bytes:
    """Go's base64 decoding, which skips line breaks (kustomize wraps long values)."""
    try:
        return base64.b64decode(str(value).replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return b""
