"""cosign's key files: read them to sign and verify, write them (for tests and key rotation).

Private key (`cosign generate-key-pair`, sigstore/cosign pkg/cosign/keys.go): a PEM block
`ENCRYPTED SIGSTORE PRIVATE KEY` (older: `ENCRYPTED COSIGN PRIVATE KEY`) whose bytes are the
JSON of go-securesystemslib `encrypted.Encrypt`:

    {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64 32 bytes>"},
     "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},"ciphertext":"<b64>"}

the ciphertext being NaCl secretbox (XSalsa20-Poly1305, tag first) of the PKCS#8 DER key,
under scrypt(password, salt, N, r, p, 32). The password comes from `$COSIGN_PASSWORD`, as
cosign reads it. Unencrypted PKCS#8 / SEC1 / PKCS#1 PEM private keys (what `cosign
import-key-pair` accepts) are read too. Public key: a PKIX `PUBLIC KEY` PEM.

`cryptography` does scrypt, the keys and the signatures; it has no XSalsa20, so secretbox is
PyNaCl's (libsodium), the one extra dependency signing needs.

    key = load_private_key(Path("cosign.key"), password=b"...")
    public = load_public_key(Path("cosign.pub"))
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from fluxform.errors import SourceError
from fluxform.sources.oci.format import go_json

__all__ = [
    "PrivateKey",
    "PublicKey",
    "generate_key_pair",
    "key_password",
    "load_private_key",
    "load_public_key",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_ENCRYPTED_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
_SCRYPT_PARAMS = ((32768, 8, 1), (65536, 8, 1), (131072, 8, 1))  # legacy, standard (default), OWASP


def key_password() -> bytes:
    """cosign's `COSIGN_PASSWORD` (empty when unset, as cosign with no terminal)."""
    return os.environ.get("COSIGN_PASSWORD", "").encode()


def load_private_key(path: Path, password: bytes) -> PrivateKey:
    pem = _read(path, "private key")
    block_type, body = _pem_block(pem, path)
    if block_type in _ENCRYPTED_TYPES:
        der = _decrypt(body, password, path)
        key = _load(lambda: serialization.load_der_private_key(der, password=None), path)
    else:
        key = _load(lambda: serialization.load_pem_private_key(pem, password=None), path)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise SourceError(f"{path}: unsupported private key type {type(key).__name__}")
    return key


def load_public_key(path: Path) -> PublicKey:
    pem = _read(path, "public key")
    key = _load(lambda: serialization.load_pem_public_key(pem), path)
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise SourceError(f"{path}: unsupported public key type {type(key).__name__}")
    return key


def generate_key_pair(password: bytes) -> tuple[bytes, bytes]:
    """(cosign.key, cosign.pub) PEM bytes for a new ECDSA P-256 key, as cosign writes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    n, r, p = _SCRYPT_PARAMS[1]
    box = nacl.secret.SecretBox(Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password))
    sealed = box.encrypt(der, nonce).ciphertext
    b64 = base64.b64encode
    encrypted = go_json({
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": b64(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce).decode()},
        "ciphertext": b64(sealed).decode(),
    })  # fmt: skip
    private_pem = _pem_encode(_ENCRYPTED_TYPES[0], encrypted)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def _decrypt(body: bytes, password: bytes, path: Path) -> bytes:
    try:
        doc = json.loads(body)
        kdf, cipher = doc["kdf"], doc["cipher"]
        params = (int(kdf["params"]["N"]), int(kdf["params"]["r"]), int(kdf["params"]["p"]))
        salt, nonce = base64.b64decode(kdf["salt"]), base64.b64decode(cipher["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
    except (ValueError, KeyError, TypeError):
        raise SourceError(f"{path}: not a cosign encrypted private key") from None
    if kdf.get("name") != "scrypt" or cipher.get("name") != "nacl/secretbox":
        raise SourceError(f"{path}: unsupported key encryption {kdf.get('name')}/{cipher.get('name')}")
    if params not in _SCRYPT_PARAMS or len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise SourceError(f"{path}: unsupported scrypt parameters or nonce size")
    n, r, p = params
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(sealed, nonce))
    except nacl.exceptions.CryptoError:
        raise SourceError(
            f"{path}: cannot decrypt the private key (wrong password?)", hint="set COSIGN_PASSWORD"
        ) from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {what} {path}", detail=exc.strerror or str(exc)) from None


def _pem_block(pem: bytes, path: Path) -> tuple[str, bytes]:
    text = pem.decode("ascii", "replace")
    begin = text.find("-----BEGIN ")
    if begin < 0:
        raise SourceError(f"{path}: not a PEM file")
    header_end = text.find("-----", begin + 11)
    block_type = text[begin + 11 : header_end]
    end = text.find(f"-----END {block_type}-----", header_end)
    if header_end < 0 or end < 0:
        raise SourceError(f"{path}: truncated PEM block")
    body = "".join(text[header_end + 5 : end].split())
    try:
        return block_type, base64.b64decode(body, validate=True)
    except ValueError:
        raise SourceError(f"{path}: PEM body is not base64") from None


def _pem_encode(block_type: str, data: bytes) -> bytes:
    body = base64.b64encode(data).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {block_type}-----\n" + "\n".join(lines) + f"\n-----END {block_type}-----\n").encode()


def _load(loader: Callable[[], object], path: Path) -> object:
    try:
        return loader()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SourceError(f"{path}: cannot load the key", detail=str(exc)[:200]) from None
