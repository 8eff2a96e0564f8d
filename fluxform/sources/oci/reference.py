"""What a user may name as an artifact: `oci://HOST/REPO:TAG`, `oci://HOST/REPO@sha256:…`
(a tag and a digest together: the digest wins and the tag must point at it), an OCI layout
tar file, or an OCI layout directory.

    ref = parse_artifact_ref("oci://127.0.0.1:5000/fleet:v1")
    ref.host, ref.repository, ref.tag, ref.digest     # "127.0.0.1:5000", "fleet", "v1", ""
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fluxform.errors import SourceError

__all__ = ["ArtifactRef", "LayoutRef", "parse_artifact_ref", "parse_source_ref"]

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    host: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when known, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def docker_reference(self) -> str:
        """`host/repository`, as cosign names the signed image."""
        return f"{self.host}/{self.repository}"

    def __str__(self) -> str:
        text = f"oci://{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True, slots=True)
class LayoutRef:
    path: Path  # an OCI layout directory or tar file

    def __str__(self) -> str:
        return str(self.path)


def parse_artifact_ref(text: str, *, need_tag: bool = False) -> ArtifactRef:
    if not text.startswith("oci://"):
        raise SourceError(f"not an OCI reference: {text}", hint="write oci://HOST/REPO:TAG or oci://HOST/REPO@sha256:…")
    rest = text.removeprefix("oci://")
    rest, _, digest = rest.partition("@")
    host, _, path = rest.partition("/")
    repository, tag = path, ""
    last = path.rfind(":")
    if last > path.rfind("/"):
        repository, tag = path[:last], path[last + 1 :]
    if not host or not repository:
        raise SourceError(f"OCI reference needs a registry and a repository: {text}")
    if not _REPOSITORY.fullmatch(repository):
        raise SourceError(
            f"invalid repository name {repository!r} in {text}", hint="lowercase letters, digits, . _ - /"
        )
    if tag and not _TAG.fullmatch(tag):
        raise SourceError(f"invalid tag {tag!r} in {text}")
    if digest and not _DIGEST.fullmatch(digest):
        raise SourceError(f"invalid digest {digest!r} in {text}", hint="digests look like sha256:<64 hex>")
    if need_tag and not tag:
        raise SourceError(f"{text} needs a tag to push to", hint="write oci://HOST/REPO:TAG")
    return ArtifactRef(host, repository, tag, digest)


def parse_source_ref(text: str) -> ArtifactRef | LayoutRef:
    """A registry reference, or an existing layout file or directory."""
    if text.startswith("oci://"):
        return parse_artifact_ref(text)
    path = Path(text)
    if not path.exists():
        raise SourceError(f"{text} is neither an oci:// reference nor an existing OCI layout file or directory")
    return LayoutRef(path)
