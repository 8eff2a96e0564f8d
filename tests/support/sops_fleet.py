"""A fleet whose Kustomizations decrypt with a PGP key: SOPS `.env` generator inputs (decrypted
into a private tmpfs copy before kustomize runs) and a whole-file encrypted Secret each.
For tests of what a run leaves behind and of what errors may quote."""

from __future__ import annotations

from pathlib import Path

from fluxform import yamlio
from tests.support.keys import PgpTestKey
from tests.support.sops import SopsCli
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, write_tree

CLUSTER = "clusters/test"


def plaintext(index: int) -> dict[str, str]:
    """The secret values of app `index` (long and distinctive, so a search cannot miss them)."""
    return {
        "ENV_PASSWORD": f"env-password-{index}-4b1d9c7e0f",
        "SECRET_TOKEN": f"secret-token-{index}-8e2a6f3d1c",
    }


def write_sops_fleet(root: Path, key: PgpTestKey, *, apps: int) -> Path:
    """The fleet under `root` (returns the cluster path); key files go to `root/keys`."""
    sops = SopsCli(key.home)
    files = {
        f"{CLUSTER}/flux-system.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", f"./{CLUSTER}"),
        f"{CLUSTER}/apps.yaml": "---\n".join(
            flux_kustomization(f"app-{i}", f"./apps/app-{i}", "  decryption:\n    provider: sops\n")
            for i in range(apps)
        ),
    }
    for i in range(apps):
        values = plaintext(i)
        env = f"ENV_PASSWORD={values['ENV_PASSWORD']}\n".encode()
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"token-{i}", "namespace": "default"},
            "stringData": {"token": values["SECRET_TOKEN"]},
        }
        files[f"apps/app-{i}/kustomization.yaml"] = yamlio.dump(
            {
                "namespace": "default",
                "resources": ["secret.yaml"],
                "secretGenerator": [{"name": f"env-{i}", "envs": ["secrets.env"]}],
            }
        )
        files[f"apps/app-{i}/secrets.env"] = sops.encrypt(env, "dotenv", pgp=[key.fingerprint]).decode()
        files[f"apps/app-{i}/secret.yaml"] = sops.encrypt(
            yamlio.dump(secret).encode(), "yaml", pgp=[key.fingerprint], extra=["--encrypted-regex", "^stringData$"]
        ).decode()
    write_tree(root, files)
    (root / "keys").mkdir(exist_ok=True)
    (root / "keys" / "flux.asc").write_bytes(key.armored_secret)
    return root / CLUSTER
