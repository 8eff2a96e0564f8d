"""cosign key-based signatures, stored and checked the way cosign and source-controller do,
so they survive being carried to another registry.

Stored (cosign `sign --key`, legacy tag format, no transparency log): an image tagged
`sha256-<hex of the signed manifest digest>.sig` in the same repository; one layer per
signature, media type `application/vnd.dev.cosign.simplesigning.v1+json`, whose blob is the
simple-signing payload (sigstore pkg/signature/payload, Go-marshalled):

    {"critical":{"identity":{"docker-reference":"reg/fleet"},
     "image":{"docker-manifest-digest":"sha256:…"},"type":"cosign container image signature"},
     "optional":null}

and whose annotation `dev.cosignproject.cosign/signature` is the base64 signature of the
payload (ECDSA/RSA with SHA-256, DER; Ed25519 plain). The signature image's config is the
empty image config with the layers' diff_ids (`application/vnd.oci.image.config.v1+json`).
Signing again appends a layer; an identical one is not added twice.

Verified (source-controller with `spec.verify.secretRef`: cosign CheckOpts with a key,
Offline and IgnoreTlog; plus cosign CLI's SimpleClaimVerifier): at least one layer whose
signature verifies with the public key *and* whose payload names this manifest digest.
The `docker-reference` is not compared (it still names the registry the artifact was signed
in after an import), as neither cosign nor source-controller compare it.

    sign_image(store, "sha256:…", "reg:5000/fleet", key)
    verify_image(store, "sha256:…", public_key, what="oci://reg:5000/fleet:v1")
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from fluxform.errors import SourceError
from fluxform.sources.oci.cosignkey import PrivateKey, PublicKey
from fluxform.sources.oci.format import Descriptor, go_json, image_manifest
from fluxform.sources.oci.registry import OCI_MANIFEST
from fluxform.sources.oci.store import ImageStore

__all__ = [
    "OCI_IMAGE_CONFIG",
    "SIGNATURE_ANNOTATION",
    "SIMPLESIGNING",
    "sign_image",
    "signature_tag",
    "signing_payload",
    "verify_image",
]

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
_PAYLOAD_TYPE = "cosign container image signature"
_ZERO_TIME = "0001-01-01T00:00:00Z"
_MAX_PAYLOAD = 1 << 20


def signature_tag(digest: str) -> str:
    """cosign's tag for the signatures of a manifest: `sha256-<hex>.sig`."""
    return digest.replace(":", "-") + ".sig"


def signing_payload(digest: str, docker_reference: str) -> bytes:
    return go_json({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": _PAYLOAD_TYPE,
        },
        "optional": None,
    })  # fmt: skip


def sign_image(store: ImageStore, digest: str, docker_reference: str, key: PrivateKey) -> str:
    """Sign manifest `digest` and store the signature beside it; returns the `.sig` digest."""
    payload = signing_payload(digest, docker_reference)
    signature = base64.b64encode(_sign(key, payload)).decode()
    layer = Descriptor.of(SIMPLESIGNING, payload, {SIGNATURE_ANNOTATION: signature})
    tag = signature_tag(digest)
    layers: list[Descriptor] = []
    if store.resolve(tag) is not None:
        layers = list(store.manifest(tag).layers)
    if not any(existing.digest == layer.digest and existing.annotations == layer.annotations for existing in layers):
        layers.append(layer)
    store.put_blob(payload)
    config = go_json({
        "architecture": "",
        "created": _ZERO_TIME,
        "history": [{"created": _ZERO_TIME} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [existing.digest for existing in layers]},
        "config": {},
    })  # fmt: skip
    store.put_blob(config)
    manifest = image_manifest(Descriptor.of(OCI_IMAGE_CONFIG, config), layers, {})
    return store.put_manifest(tag, manifest, OCI_MANIFEST)


def verify_image(store: ImageStore, digest: str, public_key: PublicKey, *, what: str) -> int:
    """How many signatures of manifest `digest` verify (at least one, else SourceError)."""
    tag = signature_tag(digest)
    if store.resolve(tag) is None:
        raise SourceError(f"{what}: no cosign signature found (no {tag} in {store.name})", hint="sign with --sign-key")
    signatures = store.manifest(tag)
    verified, reasons = 0, []
    for layer in signatures.layers:
        reason = _check_layer(store, layer, digest, public_key)
        if reason:
            reasons.append(reason)
        else:
            verified += 1
    if not verified:
        detail = "; ".join(sorted(set(reasons))) or "the signature image has no layers"
        raise SourceError(f"{what}: no cosign signature verifies with the given key", detail=detail)
    return verified


def _check_layer(store: ImageStore, layer: Descriptor, digest: str, public_key: PublicKey) -> str:
    """Why this signature layer does not verify, or "" when it does."""
    if layer.media_type != SIMPLESIGNING:
        return f"layer of media type {layer.media_type} is not a simple-signing payload"
    try:
        signature = base64.b64decode(layer.annotations.get(SIGNATURE_ANNOTATION, ""), validate=True)
    except binascii.Error:
        return "signature annotation is not base64"
    if not signature:
        return f"layer has no {SIGNATURE_ANNOTATION} annotation"
    payload = store.blob(layer.digest, layer.size, limit=_MAX_PAYLOAD)
    if not _verifies(public_key, signature, payload):
        return "signature does not match the key"
    claims = _claims(payload)
    if claims.get("type") != _PAYLOAD_TYPE:
        return f"payload type is not {_PAYLOAD_TYPE!r}"
    image = claims.get("image")
    claimed = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if claimed != digest:
        return f"payload signs {claimed}, not {digest}"
    return ""


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError:
        return {}
    critical = doc.get("critical") if isinstance(doc, dict) else None
    return critical if isinstance(critical, dict) else {}


def _sign(key: PrivateKey, payload: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(payload, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(payload)


def _verifies(key: PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True
