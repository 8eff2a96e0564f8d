"""SOPS decryption as Flux's kustomize-controller does it, and masking of secret values.

keys.py        KeyRing: age identities and PGP secret keys (files, env, decryption Secret)
sops.py        SopsSession: the real sops binary, ciphertext on stdin, plaintext on stdout
resource.py    decrypt built objects (whole SOPS documents, Secret data markers)
generators.py  encrypted secretGenerator/patch files kustomize reads itself
mask.py        Masker: `***(hmac:…)` fingerprints for every output
plaintexts.py  what each decryption revealed, scrubbed from every message
macs.py        the MAC of each encrypted source file, checked once (Flux never checks)
tmpfs.py       private RAM-backed scratch dirs for the few plaintext files kustomize needs

ring = KeyRing.merged(KeyRing.from_files(paths), KeyRing.from_env(os.environ))
with SopsSession(ring) as session:
    objects = decrypt_manifests(objects, session, subject=ks_id)
"""

from fluxform.decrypt.formats import SopsFormat, format_for_path, format_from_markers
from fluxform.decrypt.generators import (
    GeneratorSource,
    decrypt_generator_sources,
    find_encrypted_generator_sources,
    secure_join,
)
from fluxform.decrypt.keys import AgeIdentity, KeyRing, PgpKey, keyring_from_keys_dir
from fluxform.decrypt.mask import Masker, derive_mask_key, new_mask_key, secret_plaintexts
from fluxform.decrypt.recipients import Recipients, recipients_of
from fluxform.decrypt.resource import (
    DECRYPT_ANNOTATION,
    decrypt_manifest,
    decrypt_manifests,
    encrypted_paths,
    flux_refuses_apply,
    has_sops_metadata,
    is_decryption_disabled,
    needs_decryption,
    secret_values_encrypted,
    undecrypted_warning,
)
from fluxform.decrypt.sops import MacMismatch, SopsSession, sops_executable
from fluxform.decrypt.tmpfs import ALLOW_DISK_TEMP_ENV, is_on_tmpfs, private_tmpfs_dir

__all__ = [
    "ALLOW_DISK_TEMP_ENV",
    "DECRYPT_ANNOTATION",
    "AgeIdentity",
    "GeneratorSource",
    "KeyRing",
    "MacMismatch",
    "Masker",
    "PgpKey",
    "Recipients",
    "SopsFormat",
    "SopsSession",
    "decrypt_generator_sources",
    "decrypt_manifest",
    "decrypt_manifests",
    "derive_mask_key",
    "encrypted_paths",
    "find_encrypted_generator_sources",
    "flux_refuses_apply",
    "format_for_path",
    "format_from_markers",
    "has_sops_metadata",
    "is_decryption_disabled",
    "is_on_tmpfs",
    "keyring_from_keys_dir",
    "needs_decryption",
    "new_mask_key",
    "private_tmpfs_dir",
    "recipients_of",
    "secret_plaintexts",
    "secret_values_encrypted",
    "secure_join",
    "sops_executable",
    "undecrypted_warning",
]
