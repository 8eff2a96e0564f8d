"""SOPS MACs of the encrypted files in a source, checked once per file.

kustomize-controller decrypts built resources without checking their MAC (kustomize has
added namespaces, labels and reordered fields, so it could never match), so an edit of a
clear-text field of an encrypted file, or a value swapped in from another file, goes
unnoticed. fluxform decrypts as Flux does, and in addition checks the MAC of the *file*
each decrypted resource came from, as sops would: a mismatch is a warning, once per file,
and the values are still used (they are what Flux applies).

The file is found by its `sops.mac` value, which kustomize carries through unchanged.

    macs = SourceMacs()
    diagnostics = macs.check(manifests, root=artifact_root, session=session, subject=ks.id)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fluxform.decrypt.formats import SopsFormat
from fluxform.decrypt.sops import MacMismatch, SopsSession
from fluxform.errors import DecryptError, Diagnostic
from fluxform.objects import ObjectId, SourceLocation

__all__ = ["SourceMacs"]

_STRUCTURED = {".yaml": SopsFormat.YAML, ".yml": SopsFormat.YAML, ".json": SopsFormat.JSON}
_MAC = re.compile(rb"""["']?mac["']?\s*:\s*["']?(ENC\[AES256_GCM,[^\]\s"']+\])""")


class SourceMacs:
    """Which encrypted file holds which MAC, per source root, and what checking them found."""

    def __init__(self) -> None:
        self._index: dict[Path, dict[str, Path]] = {}
        self._checked: dict[Path, bool] = {}  # file -> its MAC matched
        self._lock = threading.Lock()

    def check(
        self, manifests: Sequence[Mapping[str, Any]], *, root: Path, session: SopsSession, subject: ObjectId
    ) -> list[Diagnostic]:
        """Verify the file of each whole-file encrypted manifest (not yet verified); one
        warning per file whose MAC does not match."""
        paths = []
        for path in sorted({p for m in manifests if (p := self._source(root, m)) is not None}):
            with self._lock:
                if path not in self._checked:
                    self._checked[path] = True
                    paths.append(path)
        if not paths:
            return []
        with ThreadPoolExecutor(max_workers=min(len(paths), 8)) as pool:
            matches = list(pool.map(lambda p: self._mac_matches(p, session), paths))
        return [_mismatch(path, root, subject) for path, ok in zip(paths, matches, strict=True) if not ok]

    def _source(self, root: Path, manifest: Mapping[str, Any]) -> Path | None:
        meta = manifest.get("sops")
        mac = meta.get("mac") if isinstance(meta, Mapping) else None
        if not isinstance(mac, str) or not mac:
            return None
        with self._lock:
            index = self._index.get(root)
            if index is None:
                index = self._index[root] = _scan(root)
        return index.get(mac)

    def _mac_matches(self, path: Path, session: SopsSession) -> bool:
        fmt = _STRUCTURED[path.suffix]
        try:
            session.decrypt(path.read_bytes(), input_type=fmt, output_type=fmt, ignore_mac=False, what=path.name)
        except MacMismatch:
            return False
        except (DecryptError, OSError):
            return True  # not this check's business: the resource itself decrypted
        return True


def _scan(root: Path) -> dict[str, Path]:
    """MAC value -> file, for every SOPS-encrypted YAML/JSON file below `root`."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix not in _STRUCTURED or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if b"ENC[AES256_GCM" not in data:
            continue
        for match in _MAC.finditer(data):
            found.setdefault(match.group(1).decode(), path)
    return found


def _mismatch(path: Path, root: Path, subject: ObjectId) -> Diagnostic:
    relative = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    return Diagnostic(
        "SOPS MAC mismatch: the file was changed after it was encrypted; Flux does not check the MAC "
        "and applies the values as they are",
        subject=subject,
        location=SourceLocation(relative),
        detail="re-encrypt it with sops (sops edit / sops updatekeys), or revert the edit",
    )
