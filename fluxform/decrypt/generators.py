"""Encrypted files that kustomize reads itself: kustomize-controller's `DecryptSources`.

Before building, Flux decrypts in place every SOPS file referenced by a kustomization
file's `secretGenerator[].files`, `secretGenerator[].envs` and local `patches[].path`,
starting at the build directory and recursing through local `resources:` and
`components:` directories that hold a kustomization file. Paths can never leave the
artifact root (symlinks and `..` are clamped to it, like filepath-securejoin); files over
5 MiB are refused; a file is decrypted only if it carries the SOPS marker of the format
its name implies (`files:` go by the *key* name, `envs:` default to dotenv).
`configMapGenerator` inputs are not visited, but a file a secretGenerator names is decrypted
in place, so a configMapGenerator reading the same file reads it decrypted
(kustomize-controller's TestKustomizationReconciler_Decryptor, `sops-files-configmap`). A
relative symlink inside the root is followed; one leaving the root, or a reference that does
(`../`), is clamped to the root, where the file is then missing: an error, as in Flux
(TestDecryptor_decryptKustomizationSources).

fluxform never decrypts in place: `decrypt_generator_sources` writes plaintext only into a
private tmpfs copy of the tree (see `tmpfs.private_tmpfs_dir`). A `files:` source only a
secretGenerator reads ends up as Secret `.data` that `decrypt_manifest` decrypts after the
build anyway, so only `envs:`, patches and files a configMapGenerator reads too need this
step (`GeneratorSource.needs_predecryption`). What they decrypt to may then sit in a
ConfigMap or a patched object: `plaintext_values` lists it, so those leaves are masked.

    sources = find_encrypted_generator_sources(copy / "apps", copy)
    decrypt_generator_sources(sources, session, copy)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlparse

from fluxform import paths, yamlio
from fluxform.decrypt.formats import SopsFormat, contains_marker, format_for_path
from fluxform.decrypt.sops import SopsSession
from fluxform.decrypt.tmpfs import ALLOW_DISK_TEMP_ENV, is_on_tmpfs
from fluxform.errors import DecryptError, SourceError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.private_file import write_private

__all__ = [
    "KUSTOMIZATION_FILE_NAMES",
    "MAX_ENCRYPTED_FILE_SIZE",
    "GeneratorSource",
    "decrypt_generator_sources",
    "find_encrypted_generator_sources",
    "plaintext_values",
    "secure_join",
]

MAX_ENCRYPTED_FILE_SIZE = 5 << 20
KUSTOMIZATION_FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

Usage = Literal["files", "envs", "patches"]


@dataclass(frozen=True, slots=True)
class GeneratorSource:
    """One SOPS-encrypted file a kustomization file makes kustomize read."""

    path: Path  # absolute, inside root, symlinks resolved within root
    relative: PurePosixPath  # the same file relative to root
    format: SopsFormat  # input and output format
    usage: Usage
    kustomization: PurePosixPath  # the kustomization file referring to it, relative to root
    read_by_configmap: bool = False  # a configMapGenerator reads the same file (decrypted in Flux)

    @property
    def needs_predecryption(self) -> bool:
        """`files:` are decrypted later through the Secret's data markers (unless a
        configMapGenerator reads them too); the rest only here."""
        return self.usage != "files" or self.read_by_configmap


def secure_join(root: Path, unsafe: str) -> Path:
    """`fluxform.paths.secure_join`, with a symlink loop reported as a DecryptError."""
    try:
        return paths.secure_join(root, unsafe)
    except SourceError as exc:
        raise DecryptError(exc.summary) from None


def find_encrypted_generator_sources(kustomization_dir: Path, root: Path) -> list[GeneratorSource]:
    """SOPS-encrypted generator and patch files reachable from `kustomization_dir`, in Flux's
    visiting order. Call it on the tree as kustomize will build it (kustomization file
    generated if Flux would generate one); a start dir without one is searched like Flux's
    generator does (sub-directories holding a kustomization file)."""
    root = root.resolve()
    finder = _Finder(root)
    directory = (root / kustomization_dir).resolve()  # a relative dir is taken relative to root
    if directory != root and root not in directory.parents:
        raise DecryptError(f"{kustomization_dir} is outside the source root {root}")
    start = _relative(root, directory)
    if _kustomization_file(root, start) is None:
        for sub in _nested_kustomization_dirs(root / start):
            finder.visit_dir(str(sub.relative_to(root)))
    else:
        finder.visit_dir(str(start))
    return [replace(f, read_by_configmap=f.path in finder.configmap_inputs) for f in finder.found]


def decrypt_generator_sources(
    sources: Sequence[GeneratorSource],
    session: SopsSession,
    dest_root: Path,
    *,
    subject: ObjectId | None = None,
    workers: int | None = None,
) -> None:
    """Write each source's plaintext to `dest_root/<relative>` (0600), in parallel.

    `dest_root` must be on tmpfs (a `private_tmpfs_dir`) unless FLUXFORM_ALLOW_DISK_TEMP=1;
    it may be the tree the sources were found in (the file is then replaced atomically)."""
    if not sources:
        return
    if not is_on_tmpfs(dest_root) and os.environ.get(ALLOW_DISK_TEMP_ENV, "") not in {"1", "true", "yes"}:
        raise DecryptError(
            f"refusing to write decrypted files to {dest_root}: not a tmpfs directory",
            hint=f"use fluxform.decrypt.private_tmpfs_dir(), or set {ALLOW_DISK_TEMP_ENV}=1",
        )
    pool_size = workers or min(len(sources), max(2, (os.cpu_count() or 1) * 2), 16)
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        for future in [pool.submit(_decrypt_source, s, session, dest_root, subject) for s in sources]:
            future.result()


def plaintext_values(sources: Sequence[GeneratorSource], decrypted_root: Path) -> frozenset[str]:
    """What the predecrypted `sources` (decrypted under `decrypted_root`) hand kustomize as
    values: a `files:` source's whole content, an `envs:` file's values, the leaves of a
    patch that were encrypted. Held in memory only, so the objects carrying them (a
    ConfigMap, a patched Deployment) can be masked like Secrets."""
    values: set[str] = set()
    for source in sources:
        if not source.needs_predecryption:
            continue
        plain = decrypted_root.joinpath(*source.relative.parts).read_bytes().decode("utf-8", "replace")
        if source.usage == "files":
            values.add(plain)
        elif source.usage == "envs":
            values.update(line.partition("=")[2] for line in plain.splitlines() if "=" in line)
        else:
            values.update(_decrypted_leaves(source.path.read_bytes(), plain))
    return frozenset(v for v in values if v.strip())


def _decrypted_leaves(encrypted: bytes, plain: str) -> list[str]:
    """The plaintext of every leaf that is SOPS ciphertext in the encrypted document."""
    try:
        pairs = list(zip(yamlio.load_all(encrypted), yamlio.load_all(plain), strict=False))
    except yamlio.YamlError:
        return []
    found: list[str] = []

    def walk(sealed: Any, opened: Any) -> None:
        if isinstance(sealed, str) and sealed.startswith("ENC[") and not isinstance(opened, (dict, list)):
            found.append(str(opened))
        elif isinstance(sealed, Mapping) and isinstance(opened, Mapping):
            for key, value in sealed.items():
                if key != "sops" and key in opened:
                    walk(value, opened[key])
        elif isinstance(sealed, list) and isinstance(opened, list):
            for a, b in zip(sealed, opened, strict=False):
                walk(a, b)

    for sealed, opened in pairs:
        walk(sealed, opened)
    return found


def _decrypt_source(source: GeneratorSource, session: SopsSession, dest_root: Path, subject: ObjectId | None) -> None:
    location = SourceLocation(str(source.relative))
    what = f"{source.relative} ({source.usage} of {source.kustomization})"
    plain = session.decrypt_like_flux(
        source.path.read_bytes(),
        input_type=source.format,
        output_type=source.format,
        subject=subject,
        location=location,
        what=what,
    )
    target = dest_root.joinpath(*source.relative.parts)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(target, plain, what=f"the decrypted copy of {source.relative}")


class _Finder:
    """Flux's recurseKustomizationFiles + decryptKustomizationSources, collecting not decrypting."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.found: list[GeneratorSource] = []
        self.configmap_inputs: set[Path] = set()  # files configMapGenerators read (not visited)
        self._visited_dirs: set[Path] = set()
        self._seen_files: set[Path] = set()

    def visit_dir(self, path: str) -> None:
        absolute = self._secure(path)
        if absolute in self._visited_dirs:
            return
        self._visited_dirs.add(absolute)
        if not absolute.is_dir():
            return  # missing (a URL, a typo kustomize will report) or a file: a dead end, as in Flux
        relative = _relative(self.root, absolute)
        kustomization_file = _kustomization_file(self.root, relative)
        if kustomization_file is None:
            raise DecryptError(
                f"{relative}: no kustomization file found",
                hint="every directory listed in resources/components needs a kustomization.yaml",
            )
        kustomization = _load_kustomization(self.root, kustomization_file)
        self._visit_kustomization(str(relative), kustomization, kustomization_file)
        for entry in _strings(kustomization.get("resources")) + _strings(kustomization.get("components")):
            self.visit_dir(_join(str(relative), entry))

    def _visit_kustomization(self, base: str, kus: Mapping[str, Any], kus_file: PurePosixPath) -> None:
        for generator in kus.get("secretGenerator") or []:
            if not isinstance(generator, Mapping):
                continue
            for file_source in _strings(generator.get("files")):
                key, sep, file_path = file_source.partition("=")
                self._visit_ref(base, file_path if sep else key, format_for_path(key), "files", kus_file)
            for env_file in _strings(generator.get("envs")):
                fmt = format_for_path(env_file)
                self._visit_ref(
                    base, env_file, SopsFormat.DOTENV if fmt is SopsFormat.BINARY else fmt, "envs", kus_file
                )
        for generator in kus.get("configMapGenerator") or []:
            if isinstance(generator, Mapping):
                refs = [f.partition("=")[2] or f for f in _strings(generator.get("files"))]
                refs += _strings(generator.get("envs"))
                self.configmap_inputs.update(self._secure(_join(base, ref)) for ref in refs if not _is_remote_url(ref))
        for patch in kus.get("patches") or []:
            path = patch.get("path") if isinstance(patch, Mapping) else None
            if isinstance(path, str) and path and not _is_remote_url(path):
                self._visit_ref(base, path, format_for_path(path), "patches", kus_file)

    def _visit_ref(self, base: str, ref: str, fmt: SopsFormat, usage: Usage, kus_file: PurePosixPath) -> None:
        absolute = self._secure(_join(base, ref))
        if absolute in self._seen_files:
            return
        self._seen_files.add(absolute)
        relative = _relative(self.root, absolute)
        where = f"{relative} ({usage} of {kus_file})"
        try:
            info = absolute.lstat()
        except OSError as exc:
            raise DecryptError(f"cannot read {where}", detail=exc.strerror or "") from None
        if not absolute.is_file():
            raise DecryptError(f"cannot decrypt {where}: not a regular file")
        if info.st_size > MAX_ENCRYPTED_FILE_SIZE:
            raise DecryptError(
                f"cannot decrypt {where}: {info.st_size} bytes exceeds the {MAX_ENCRYPTED_FILE_SIZE} byte limit"
            )
        if contains_marker(absolute.read_bytes(), fmt):
            self.found.append(GeneratorSource(absolute, relative, fmt, usage, kus_file))

    def _secure(self, path: str) -> Path:
        """Flux's securePaths: an absolute path inside root is made relative first."""
        if path.startswith("/"):
            candidate = Path(path)
            if candidate == self.root or self.root in candidate.parents:
                path = str(candidate.relative_to(self.root))
        return secure_join(self.root, path)


def _kustomization_file(root: Path, directory: PurePosixPath) -> PurePosixPath | None:
    found = [directory / name for name in KUSTOMIZATION_FILE_NAMES if os.path.lexists(root / directory / name)]
    if len(found) > 1:
        raise DecryptError(f"{directory}: found multiple kustomization files ({', '.join(f.name for f in found)})")
    return found[0] if found else None


def _load_kustomization(root: Path, file: PurePosixPath) -> Mapping[str, Any]:
    path = secure_join(root, str(file))
    if not path.is_file():
        raise DecryptError(f"{file}: expected a regular kustomization file")
    try:
        doc = yamlio.load(path.read_bytes())
    except yamlio.YamlError as exc:
        raise DecryptError(f"{file}: invalid kustomization file", detail=str(exc)) from None
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise DecryptError(f"{file}: a kustomization file must be a mapping")
    return doc


def _nested_kustomization_dirs(start: Path) -> Iterator[Path]:
    """Sub-directories holding a kustomization file, not descended further (Flux's generator)."""
    for current, dirs, _files in os.walk(start):
        dirs.sort()
        here = Path(current)
        if here != start and any((here / name).exists() for name in KUSTOMIZATION_FILE_NAMES):
            dirs.clear()
            yield here


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _join(base: str, ref: str) -> str:
    return ref if ref.startswith("/") else f"{base}/{ref}"


def _relative(root: Path, path: Path | PurePosixPath) -> PurePosixPath:
    path = Path(path)
    if path.is_absolute():
        return PurePosixPath(path.relative_to(root)) if path != root else PurePosixPath(".")
    return PurePosixPath(path)


def _is_remote_url(path: str) -> bool:
    parsed = urlparse(path)
    return bool(parsed.scheme and parsed.netloc)
