"""`fluxform artifact push`: a directory to a Flux OCI artifact in a registry, reproducibly,
with the charts its HelmReleases need and a cosign signature when asked.

Defaults, as `flux push artifact`: `--ignore-paths` = VCS files + binary extensions (and
fluxform also honours the tree's `.sourceignore` files), annotations source/revision/created.
What Flux takes from flags fluxform takes from git when the directory is in a clone: source
= `remote.origin.url`, revision = `<branch>@sha1:<commit>`, created = the commit time, so
pushing one commit twice gives one digest. Outside git, `--source`/`--revision` are required
and the time is now (as Flux), unless `--creation-time` or `--reproducible` fix it.

    result = push_artifact(PushRequest(Path("fleet"), parse_artifact_ref("oci://reg/fleet:v1")), access)
    result.digest
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fluxform.errors import SourceError
from fluxform.sources.artifact import IgnoreMatcher, ListingFilter
from fluxform.sources.oci.chartmirror import ChartEntry, RecordedChart, encode_entries, push_charts
from fluxform.sources.oci.cosign import sign_image
from fluxform.sources.oci.cosignkey import PrivateKey
from fluxform.sources.oci.format import (
    CHARTS_ANNOTATION,
    CREATED_ANNOTATION,
    FLUX_IGNORE_PATHS,
    REVISION_ANNOTATION,
    SOURCE_ANNOTATION,
    FluxArtifactBlobs,
    flux_artifact,
    parse_created,
)
from fluxform.sources.oci.reference import ArtifactRef
from fluxform.sources.oci.registry import OCI_MANIFEST
from fluxform.sources.oci.store import RegistryAccess, RegistryRepository, naming
from fluxform.sources.oci.tarball import pack_tree
from fluxform.tool import find_executable, run_tool

__all__ = ["DEFAULT_MAX_SIZE", "PushRequest", "PushResult", "build_artifact", "git_defaults", "push_artifact"]

DEFAULT_MAX_SIZE = 512 * 1024 * 1024


@dataclass(frozen=True)
class PushRequest:
    directory: Path
    target: ArtifactRef  # with a tag
    source: str = ""  # org.opencontainers.image.source; "" = from git
    revision: str = ""  # org.opencontainers.image.revision; "" = from git
    created: str = ""  # RFC 3339; "" = the commit time, else now
    ignore_paths: Sequence[str] = FLUX_IGNORE_PATHS  # replaces Flux's default, as --ignore-paths does
    annotations: Mapping[str, str] = field(default_factory=dict)  # extra --annotations
    charts: Sequence[RecordedChart] = ()  # --include-charts: what the fleet's HelmReleases resolved
    sign_key: PrivateKey | None = None
    max_size: int = DEFAULT_MAX_SIZE


@dataclass(frozen=True)
class PushResult:
    reference: ArtifactRef  # with the digest
    digest: str
    size: int  # bytes of manifest + config + layer
    files: int
    charts: tuple[ChartEntry, ...] = ()
    signature: str = ""  # digest of the .sig manifest


@dataclass(frozen=True)
class GitFacts:
    source: str = ""
    revision: str = ""
    created: str = ""


def git_defaults(directory: Path) -> GitFacts:
    """Origin URL, `<branch>@sha1:<commit>` and commit time of the clone holding `directory`."""
    git = find_executable("git")
    if git is None or not directory.is_dir():
        return GitFacts()

    def ask(*args: str) -> str:
        result = run_tool([git, *args], tool="git", cwd=directory, check=False)
        return result.stdout.decode().strip() if result.exit_code == 0 else ""

    commit = ask("rev-parse", "--verify", "--quiet", "HEAD")
    if not commit:
        return GitFacts()
    branch = ask("symbolic-ref", "--quiet", "--short", "HEAD") or ask("describe", "--tags", "--exact-match")
    stamp = ask("log", "-1", "--format=%ct", commit)
    created = dt.datetime.fromtimestamp(int(stamp), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else ""
    revision = f"{branch}@sha1:{commit}" if branch else f"sha1:{commit}"
    return GitFacts(ask("config", "--get", "remote.origin.url"), revision, created)


def _annotations(request: PushRequest) -> dict[str, str]:
    facts = git_defaults(request.directory) if not (request.source and request.revision and request.created) else None
    source = request.source or (facts.source if facts else "")
    revision = request.revision or (facts.revision if facts else "")
    if not source:
        raise SourceError(f"{request.directory}: --source is required (no git remote.origin.url to take it from)")
    if not revision:
        raise SourceError(f"{request.directory}: --revision is required (not a git clone)")
    created = (
        request.created or (facts.created if facts else "") or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    parse_created(created)
    out = {**request.annotations, SOURCE_ANNOTATION: source, REVISION_ANNOTATION: revision, CREATED_ANNOTATION: created}
    return out


def build_artifact(request: PushRequest, extra: Mapping[str, str] | None = None) -> tuple[FluxArtifactBlobs, int]:
    """The artifact's manifest and blobs (nothing is uploaded), and the files packed."""
    directory = request.directory
    if not directory.is_dir():
        raise SourceError(f"{directory} is not a directory")
    keep = ListingFilter(IgnoreMatcher.for_push(directory, request.ignore_paths))
    layer = pack_tree(directory.resolve(), keep, limit=request.max_size)
    if len(layer.data) > request.max_size:
        raise SourceError(f"{directory}: the packed artifact is over {request.max_size} bytes")
    annotations = {**_annotations(request), **(extra or {})}
    return flux_artifact(layer.data, layer.diff_id, annotations), layer.files


def push_artifact(request: PushRequest, access: RegistryAccess) -> PushResult:
    """Charts first (the fleet's annotation names their manifests), then the fleet's blobs,
    then its manifest under the tag, then the signature."""
    target = request.target
    with naming(str(target)):
        store = RegistryRepository(access.client(target.host), target.repository)
        entries = push_charts(store, request.charts) if request.charts else []
        extra = {CHARTS_ANNOTATION: encode_entries(entries)} if entries else {}
        artifact, files = build_artifact(request, extra)
        for data in artifact.blobs.values():
            store.put_blob(data)
        digest = store.put_manifest(target.tag or "latest", artifact.manifest, OCI_MANIFEST)
        signature = sign_image(store, digest, target.docker_reference, request.sign_key) if request.sign_key else ""
    size = len(artifact.manifest) + sum(len(b) for b in artifact.blobs.values())
    pinned = ArtifactRef(target.host, target.repository, target.tag, digest)
    return PushResult(pinned, digest, size, files, tuple(entries), signature)
