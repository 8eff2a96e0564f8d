"""Kubeconfig files pointing at an emulator (context `kubeapi`, bearer-token user).

write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:40123", "kubeapi-token")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CONTEXT", "kubeconfig_document", "write_kubeconfig"]

CONTEXT = "kubeapi"


def kubeconfig_document(url: str, token: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(path: Path, url: str, token: str) -> Path:
    """Write the file with mode 0600 (it holds a credential, if only a test one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig_document(url, token), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
