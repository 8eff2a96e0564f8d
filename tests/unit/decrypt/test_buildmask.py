"""`build` without keys shows SOPS data as `flux build kustomization` does. Expected values
are those of Flux's CLI goldens (fluxcd/flux2 cmd/flux/testdata/build-kustomization,
podinfo-result.yaml and sops-configmap-result.yaml), recomputed here, not copied."""

from __future__ import annotations

import base64
import json
from typing import Any

from fluxform.decrypt.buildmask import SOPS_MASK, mask_like_flux_build

SOPS_BLOCK = {
    "age": [{"recipient": "age1x", "enc": "..."}],
    "mac": "ENC[AES256_GCM,data:bWFj,type:str]",
    "version": "3.7.1",
}
CIPHERTEXT = "ENC[AES256_GCM,data:KHCFH3hN,iv:q48l,tag:QRI2,type:str]"


def _secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, **fields}


def test_a_sops_secret_loses_its_sops_block_and_every_value() -> None:
    shown = mask_like_flux_build(_secret(data={"a": CIPHERTEXT, "b": CIPHERTEXT}, sops=SOPS_BLOCK, type="Opaque"))
    assert "sops" not in shown
    assert shown["data"] == {"a": "KipTT1BTKio=", "b": "KipTT1BTKio="}  # base64 of **SOPS**
    assert base64.b64decode(shown["data"]["a"]).decode() == SOPS_MASK


def test_string_data_is_masked_in_the_clear() -> None:
    shown = mask_like_flux_build(_secret(stringData={"username": CIPHERTEXT, "password": CIPHERTEXT}, sops=SOPS_BLOCK))
    assert shown["stringData"] == {"username": "**SOPS**", "password": "**SOPS**"}


def test_a_docker_config_secret_stays_valid_json() -> None:
    shown = mask_like_flux_build(
        _secret(data={".dockerconfigjson": CIPHERTEXT}, sops=SOPS_BLOCK, type="kubernetes.io/dockerconfigjson")
    )
    assert shown["data"][".dockerconfigjson"] == "eyJtYXNrIjoiKipTT1BTKioifQ=="
    assert json.loads(base64.b64decode(shown["data"][".dockerconfigjson"])) == {"mask": "**SOPS**"}


def test_a_generated_secret_masks_only_values_holding_ciphertext() -> None:
    """secretGenerator `files: [token=token.encrypted]` (a SOPS file) beside plain literals;
    kustomize wraps long base64 values, which Go's decoder reads across the line breaks."""
    encrypted_file = json.dumps({"data": CIPHERTEXT, "sops": SOPS_BLOCK}).encode()
    encoded = base64.b64encode(encrypted_file).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    plain = base64.b64encode(b"1f2d1e2e67df").decode()
    shown = mask_like_flux_build(_secret(data={"token": wrapped + "\n", "password": plain}))
    assert shown["data"] == {"token": "KipTT1BTKio=", "password": plain}


def test_other_kinds_keep_their_ciphertext() -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config"},
        "data": {"api-key": CIPHERTEXT},
    }
    assert mask_like_flux_build(config_map) == config_map
