"""cosign key files and signatures with keys generated here: the encrypted key format,
signing into an image store, offline verification and what it refuses."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fluxform.errors import SourceError
from fluxform.sources.oci.cosign import SIGNATURE_ANNOTATION, SIMPLESIGNING, sign_image, signature_tag, verify_image
from fluxform.sources.oci.cosignkey import generate_key_pair, load_private_key, load_public_key
from fluxform.sources.oci.format import Descriptor, image_manifest
from fluxform.sources.oci.layout import LayoutRepository, OciLayout
from fluxform.sources.oci.registry import OCI_MANIFEST


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("keys")
    private, public = generate_key_pair(b"s3cret")
    (root / "cosign.key").write_bytes(private)
    (root / "cosign.pub").write_bytes(public)
    return root / "cosign.key", root / "cosign.pub"


def _store(tmp_path: Path) -> tuple[LayoutRepository, str]:
    repo = OciLayout.create(tmp_path / "layout").repository("")
    config = repo.put_blob(b"{}")
    manifest = image_manifest(Descriptor("application/vnd.cncf.flux.config.v1+json", 2, config), [], {})
    return repo, repo.put_manifest("v1", manifest, OCI_MANIFEST)


def test_key_file_is_cosigns_encrypted_format(keys: tuple[Path, Path]) -> None:
    pem = keys[0].read_text()
    assert pem.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = base64.b64decode("".join(pem.splitlines()[1:-1]))
    doc = json.loads(body)
    assert list(doc) == ["kdf", "cipher", "ciphertext"]
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 32 and doc["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24
    key = load_private_key(keys[0], b"s3cret")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    public = load_public_key(keys[1])
    assert public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == (
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SourceError, match="cannot decrypt the private key"):
        load_private_key(keys[0], b"wrong")


def test_sign_then_verify(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    repo, digest = _store(tmp_path)
    key = load_private_key(keys[0], b"s3cret")
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # cosign's generate-key-pair makes ECDSA P-256 keys
    sign_image(repo, digest, "reg:5000/fleet", key)
    sign_image(repo, digest, "reg:5000/fleet", key)  # ECDSA is randomised: a second layer
    signatures = repo.manifest(signature_tag(digest))
    assert signature_tag(digest) == digest.replace("sha256:", "sha256-") + ".sig"
    assert [layer.media_type for layer in signatures.layers] == [SIMPLESIGNING, SIMPLESIGNING]
    payload = repo.blob(signatures.layers[0].digest, signatures.layers[0].size, limit=1 << 20)
    assert json.loads(payload) == {
        "critical": {"identity": {"docker-reference": "reg:5000/fleet"},
                     "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
        "optional": None,
    }  # fmt: skip
    signature = base64.b64decode(signatures.layers[0].annotations[SIGNATURE_ANNOTATION])
    key.public_key().verify(signature, payload, ec.ECDSA(hashes.SHA256()))  # plain ECDSA-SHA256 over the payload
    assert verify_image(repo, digest, load_public_key(keys[1]), what="fleet") == 2


def test_verification_refuses(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    repo, digest = _store(tmp_path)
    public = load_public_key(keys[1])
    with pytest.raises(SourceError, match="fleet: no cosign signature found"):
        verify_image(repo, digest, public, what="fleet")
    other = ec.generate_private_key(ec.SECP256R1())
    sign_image(repo, digest, "reg/fleet", other)
    with pytest.raises(SourceError) as caught:
        verify_image(repo, digest, public, what="fleet")
    assert (
        caught.value.one_line()
        == "fleet: no cosign signature verifies with the given key: signature does not match the key"
    )
    # a valid signature of another digest, copied under this digest's tag, is refused
    key = load_private_key(keys[0], b"s3cret")
    repo2, digest2 = _store(tmp_path / "two")
    moved = repo2.put_manifest("v2", image_manifest(Descriptor("x", 1, digest2), [], {"n": "2"}), OCI_MANIFEST)
    sign_image(repo2, moved, "reg/fleet", key)
    sig = repo2.manifest(signature_tag(moved))
    for layer in sig.layers:
        repo2.put_blob(repo2.blob(layer.digest, layer.size, limit=1 << 20))
    repo2.put_blob(repo2.blob(sig.config.digest, sig.config.size, limit=1 << 20))
    repo2.put_manifest(signature_tag(digest2), sig.raw, OCI_MANIFEST)
    with pytest.raises(SourceError) as refused:
        verify_image(repo2, digest2, public, what="fleet")
    assert refused.value.one_line().endswith(f"payload signs {moved}, not {digest2}")
