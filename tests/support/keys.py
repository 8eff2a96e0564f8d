"""TEST-ONLY keys: age identities (pyrage), SSH ed25519 key pairs, an unprotected PGP key
(gpg), and the mask key a keys directory gives.

Tests call these at run time; nothing generated here is ever committed. The fixture author
can make a throwaway age key file with:

    .venv/bin/python -m tests.support.keys path/to/test-only.agekey

which writes `# TEST-ONLY`, `# public key: age1...` and the identity line (mode 0600) and
prints the recipient.
"""

from __future__ import annotations

import base64
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from fluxform.planner.secrets import FleetSecrets, SecretOptions
from fluxform.tool import run_tool

__all__ = [
    "AgeKey",
    "PgpTestKey",
    "SshKey",
    "generate_age_key",
    "generate_pgp_key",
    "generate_ssh_key",
    "mask_key_of",
    "write_age_key_file",
]


@dataclass(frozen=True)
class AgeKey:
    identity: str  # AGE-SECRET-KEY-1...
    recipient: str  # age1...


@dataclass(frozen=True)
class PgpTestKey:
    fingerprint: str  # primary key
    armored_secret: bytes
    home: Path  # GNUPGHOME holding it (public part used by sops to encrypt)


def generate_age_key() -> AgeKey:
    identity = pyrage.x25519.Identity.generate()
    return AgeKey(str(identity), str(identity.to_public()))


@dataclass(frozen=True)
class SshKey:
    public: str  # ssh-ed25519 AAAA... (OpenSSH)
    private: str  # -----BEGIN OPENSSH PRIVATE KEY----- ...


def generate_ssh_key() -> SshKey:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return SshKey(public.decode(), private)


def mask_key_of(keys_dir: Path) -> str:
    """The mask key (base64) fluxform derives from the identities in `keys_dir`: what a state
    recorded with those keys holds."""
    with FleetSecrets(SecretOptions(keys_dir=keys_dir, use_env=False)) as secrets:
        return base64.b64encode(secrets.mask_key(None)).decode()


def write_age_key_file(path: Path, key: AgeKey) -> Path:
    path.write_text(f"# TEST-ONLY age key\n# public key: {key.recipient}\n{key.identity}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def generate_pgp_key(home: Path, name: str = "fluxform test") -> PgpTestKey:
    """An ed25519 signing key with a cv25519 encryption subkey, no passphrase, in `home`."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    gpg = shutil.which("gpg") or "gpg"
    base = [gpg, "--homedir", str(home), "--batch", "--passphrase", ""]
    run_tool([*base, "--quick-gen-key", f"{name} <test@example.invalid>", "ed25519", "cert", "never"], tool="gpg")
    listing = run_tool([gpg, "--homedir", str(home), "--list-keys", "--with-colons"], tool="gpg").stdout.decode()
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    run_tool([*base, "--quick-add-key", fingerprint, "cv25519", "encr", "never"], tool="gpg")
    armored = run_tool([*base, "--armor", "--export-secret-keys", fingerprint], tool="gpg").stdout
    return PgpTestKey(fingerprint, armored, home)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m tests.support.keys OUT.agekey\n")
        return 2
    key = generate_age_key()
    write_age_key_file(Path(argv[0]), key)
    sys.stdout.write(key.recipient + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
