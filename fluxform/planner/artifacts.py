"""Fleets and Flux sources that are OCI artifacts, opened once per run and pinned to a digest.

Three ways an artifact enters a render:
- `--source REF` (oci://HOST/REPO:TAG, oci://…@sha256:…, an OCI layout tar or directory):
  the fleet itself; PATH is a directory inside it, its charts mirror (`artifact push
  --include-charts`) answers every HelmRelease's chart question;
- `--source NAME=REF`: the artifact of the Flux source NAME (an OCIRepository);
- an OCIRepository's own `spec.url` + `spec.ref` (digest > semver > tag > latest, as
  source-controller picks), when fluxform is not `--offline`.

Each is resolved to a manifest digest once, its signature verified (`--verify-key`, required
when the OCIRepository has `spec.verify`), its layer picked by `spec.layerSelector` and
unpacked hostile-safe (sources/oci/materialize.py); `operation: extract` trees are filtered as
source-controller re-archives them, `copy` layers are used as they are. What was used is
recorded pinned (`oci://HOST/REPO:TAG@sha256:…`) in the plan's settings and as the source
revision, so `apply` (and `rollback`) open exactly that digest again; a tag that moved since
is `TagMoved`, which apply reports as a stale plan naming both digests.

    with opened_artifacts(fleet) as opened:
        request = opened.request(fleet.request(), target="clusters/staging")
        plan = plan_fleet(opened.path(Path("clusters/staging")), request, helm=opened.helm(fleet.helm()))
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxform.errors import SourceError
from fluxform.planner.kustomization.spec import SourceRef
from fluxform.planner.options import FleetOptions
from fluxform.planner.settings import PlanSettings, SourceMapping

if TYPE_CHECKING:
    from fluxform.planner.model import DesiredState
    from fluxform.planner.releases import HelmOptions
    from fluxform.planner.workflow import FleetRequest
    from fluxform.sources.oci.cosignkey import PublicKey
    from fluxform.sources.oci.materialize import MaterializedArtifact
    from fluxform.sources.oci.reference import ArtifactRef
    from fluxform.sources.oci.store import RegistryAccess

__all__ = [
    "OCI_REPOSITORY",
    "OpenedArtifacts",
    "PinnedArtifact",
    "TagMoved",
    "opened_artifacts",
    "owner_source_revision",
    "pinned_reference",
]

OCI_REPOSITORY = "OCIRepository"
_EXTRACT, _COPY = "extract", "copy"
_PINNED = re.compile(r"(?P<reference>.+)@(?P<digest>sha256:[0-9a-f]{64})")


class TagMoved(SourceError):
    """A pinned reference's tag points at another digest now: what was planned is not what
    the tag names any more."""

    def __init__(self, reference: str, planned: str, now: str) -> None:
        super().__init__(
            f"{reference} now points at {now}, the plan was made from {planned}",
            hint="plan again from the tag, or give the digest (oci://…@sha256:…) to keep the old artifact",
        )
        self.reference, self.planned, self.now = reference, planned, now


@dataclass(frozen=True)
class PinnedArtifact:
    """One artifact a render used: `name` "" for the fleet itself, else the source key (as
    `--source NAME=` gave it, or `OCIRepository/<ns>/<name>` when found from spec.url)."""

    name: str
    reference: str  # what was asked for, without the digest: oci://HOST/REPO:TAG or a layout path
    digest: str  # the manifest digest it resolved to
    verified: bool = False  # a cosign signature verified with --verify-key

    @property
    def pinned(self) -> str:
        return pinned_reference(self.reference, self.digest)


def pinned_reference(reference: str, digest: str) -> str:
    """`reference@digest` (a reference already pinned to `digest` is returned as it is)."""
    return reference if reference.endswith(f"@{digest}") else f"{reference}@{digest}"


def _split_pinned(text: str) -> tuple[str, str]:
    """(reference, digest) of `oci://…:TAG@sha256:…` or `FILE@sha256:…`; digest "" when unpinned."""
    match = _PINNED.fullmatch(text)
    return (match["reference"], match["digest"]) if match else (text, "")


class OpenedArtifacts:
    """The artifacts of one run (the `ArtifactSources` discovery asks): each opened once,
    kept unpacked until the run's context closes, recorded as pinned for the plan."""

    def __init__(self, fleet: FleetOptions, stack: contextlib.ExitStack, *, check_pins: bool) -> None:
        self._options = fleet
        self._stack = stack
        self._check_pins = check_pins  # apply: a pinned tag must still point at its digest
        self._lock = threading.Lock()
        self._opened: dict[str, tuple[Path, PinnedArtifact]] = {}  # by source key
        self._accesses: dict[bool, RegistryAccess] = {}
        self._key: PublicKey | None = None
        self.fleet: MaterializedArtifact | None = None
        self.fleet_pin: PinnedArtifact | None = None

    # -- the fleet itself ------------------------------------------------------------------
    def open_fleet(self) -> None:
        if not self._options.artifact:
            return
        reference, digest = _split_pinned(self._options.artifact)
        self.fleet = self._materialize(reference, digest, layer="", ignore="", filtered=False)
        self.fleet_pin = PinnedArtifact("", _unpinned(self.fleet.reference), self.fleet.digest, self._key is not None)

    def path(self, path: Path | None) -> Path | None:
        """Where the cluster PATH is: inside the fleet artifact when there is one (PATH
        relative to its root; none: the root), else PATH itself."""
        if self.fleet is None:
            return path
        from fluxform.paths import secure_join

        inside = secure_join(self.fleet.root, str(path) if path is not None else "")
        if not inside.is_dir():
            raise SourceError(
                f"{self.fleet.reference}: the artifact has no directory {path}",
                hint="PATH is a directory inside the artifact (`fluxform artifact pull REF -o DIR` shows its tree)",
            )
        return inside

    def request(self, request: FleetRequest, *, target: str) -> FleetRequest:
        """`request` rendering from these artifacts; `target` is what the plan shows as planned."""
        discover = replace(request.discover, artifact_sources=self)
        if self.fleet is not None:
            assert self.fleet_pin is not None
            discover = replace(
                discover,
                repo_root=self.fleet.root,
                source_revision=self.fleet_pin.pinned,
                source_commit=_commit_of(self.fleet.annotations),
            )
        return replace(request, discover=discover, artifacts=self, target=target if self.fleet is not None else "")

    def helm(self, helm: HelmOptions) -> HelmOptions:
        """Charts from the fleet artifact's mirror when it carries one (`--include-charts`):
        no chart repository and no chart cache is asked then."""
        if self.fleet is None or not self.fleet.charts:
            return helm
        return replace(helm, fetcher=self.fleet.fetcher)

    # -- what the plan records -------------------------------------------------------------
    def settings(self, settings: PlanSettings) -> PlanSettings:
        """`settings` with the artifacts used, pinned (the fleet's replaces --repo-root)."""
        with self._lock:
            pins = sorted((pin for _, pin in self._opened.values()), key=lambda p: p.name)
        sources = tuple(SourceMapping(p.name, p.pinned) for p in pins)
        if self.fleet_pin is None:
            return replace(settings, artifact_sources=sources)
        return replace(settings, repo_root="", artifact=self.fleet_pin.pinned, artifact_sources=sources)

    def check(self, desired: DesiredState) -> None:
        """A fleet whose own OCIRepository has spec.verify is planned only from a verified
        artifact (as source-controller would refuse to serve it)."""
        if self.fleet is None or self._key is not None:
            return
        self_source = str(desired.settings.get("self_source") or "")
        for owner in desired.owners:
            for obj in owner.objects:
                if f"{obj.id.kind}/{obj.id.namespace}/{obj.id.name}" == self_source and _verify_of(obj.body):
                    raise SourceError(
                        f"{self.fleet.reference}: the fleet's {self_source} has spec.verify, and the artifact was "
                        "not verified",
                        hint="pass --verify-key with the cosign public key it is signed with",
                    )

    # -- ArtifactSources (planner/kustomization/discover.py) ---------------------------------
    def mapped(self, ref: SourceRef, body: Mapping[str, Any] | None) -> Path | None:
        mapping = self._options.artifact_sources
        for key in (str(ref), f"{ref.namespace}/{ref.name}", ref.name):
            if key in mapping:
                reference, digest = _split_pinned(mapping[key])
                return self._source(key, reference, digest, body)
        return None

    def from_spec(self, ref: SourceRef, body: Mapping[str, Any] | None) -> Path | None:
        if ref.kind != OCI_REPOSITORY or body is None:
            return None
        if self._options.offline:
            raise SourceError(
                f"{ref}: not pulled from {(body.get('spec') or {}).get('url', 'its registry')}: --offline",
                hint=f"map it with --source {ref.namespace}/{ref.name}=REF (an exported layout tar works offline)",
            )
        reference = self._spec_reference(ref, body)
        return self._source(str(ref), str(reference), reference.digest, body, insecure=_insecure(body))

    # -- opening ---------------------------------------------------------------------------
    def _source(
        self, key: str, reference: str, digest: str, body: Mapping[str, Any] | None, *, insecure: bool = False
    ) -> Path:
        with self._lock:
            if key in self._opened:
                return self._opened[key][0]
        spec = (body or {}).get("spec") or {}
        selector = spec.get("layerSelector") or {}
        operation = str(selector.get("operation") or _EXTRACT)
        if operation not in (_EXTRACT, _COPY):
            raise SourceError(f"{key}: unsupported layerSelector.operation {operation!r} (extract or copy)")
        verify = _verify_of(body)
        if verify and str(verify.get("provider") or "cosign") != "cosign":
            raise SourceError(f"{key}: spec.verify.provider {verify.get('provider')!r} cannot be checked here")
        if verify and self._verify_key() is None:
            raise SourceError(f"{key} has spec.verify: planned only from a verified artifact", hint="pass --verify-key")
        art = self._materialize(
            reference,
            digest,
            layer=str(selector.get("mediaType") or ""),
            ignore=str(spec.get("ignore") or "") if isinstance(spec.get("ignore"), str) else "",
            filtered=operation == _EXTRACT,  # copy: the layer as stored, no re-archive filter
            insecure=insecure,
        )
        pin = PinnedArtifact(key, _unpinned(art.reference), art.digest, self._key is not None)
        with self._lock:
            self._opened.setdefault(key, (art.root, pin))
            return self._opened[key][0]

    def _materialize(
        self,
        reference: str,
        digest: str,
        *,
        layer: str,
        ignore: str,
        filtered: bool,
        insecure: bool = False,
    ) -> MaterializedArtifact:
        """Open, verify (when a key is given) and unpack one artifact for the run."""
        from fluxform.sources.oci.materialize import MaterializeOptions, materialize
        from fluxform.sources.oci.reference import ArtifactRef, parse_source_ref

        source = parse_source_ref(reference)
        if digest and isinstance(source, ArtifactRef):
            self._pin_holds(source, digest, insecure)
            source = replace(source, digest=digest)
        access = self._access(insecure)
        options = MaterializeOptions(
            access, self._verify_key(), self._options.artifact_access.max_size, layer, ignore, filtered
        )
        art = self._stack.enter_context(materialize(source, options))
        if digest and art.digest != digest:  # a layout whose artifact is another one now
            raise TagMoved(reference, digest, art.digest)
        return art

    def _pin_holds(self, source: ArtifactRef, digest: str, insecure: bool) -> None:
        """Apply opens the digest a plan recorded; its tag must still name it (else the plan
        is stale: someone pushed since)."""
        if not (self._check_pins and source.tag):
            return
        from fluxform.sources.oci.store import naming

        with naming(str(source)):
            now = self._access(insecure).client(source.host).resolve(source.repository, source.tag)
        if now != digest:
            raise TagMoved(str(replace(source, digest="")), digest, now or "nothing (the tag is gone)")

    def _spec_reference(self, ref: SourceRef, body: Mapping[str, Any]) -> ArtifactRef:
        """source-controller's getArtifactRef: digest > semver (after semverFilter) > tag >
        latest."""
        from fluxform.sources.oci.reference import parse_artifact_ref
        from fluxform.sources.semver import SemverError, highest

        spec = body.get("spec") or {}
        url = str(spec.get("url") or "")
        if not url.startswith("oci://"):
            raise SourceError(f"{ref}: spec.url must be oci://<domain>/<org>/<repo>, not {url!r}")
        repository = parse_artifact_ref(url)
        if repository.tag or repository.digest:
            raise SourceError(f"{ref}: spec.url must not contain a tag or digest ({url})")
        wanted = spec.get("ref") or {}
        if wanted.get("digest"):
            return replace(repository, digest=str(wanted["digest"]))
        if wanted.get("semver"):
            from fluxform.sources.oci.store import naming

            with naming(url):
                tags = self._access(_insecure(body)).client(repository.host).tags(repository.repository)
            pattern = str(wanted.get("semverFilter") or "")
            if pattern:
                try:
                    tags = [t for t in tags if re.search(pattern, t)]
                except re.error as exc:
                    raise SourceError(f"{ref}: spec.ref.semverFilter {pattern!r}: {exc}") from None
            try:
                tag = highest(tags, str(wanted["semver"]))
            except SemverError as exc:
                raise SourceError(f"{ref}: spec.ref.semver {wanted['semver']!r}: {exc}") from None
            if tag is None:
                raise SourceError(f"{url}: no tag matches semver {wanted['semver']!r}")
            return replace(repository, tag=tag)
        return replace(repository, tag=str(wanted.get("tag") or "latest"))

    def _access(self, insecure: bool) -> RegistryAccess:
        from fluxform.sources.oci.store import RegistryAccess

        plain = self._options.artifact_access.plain_http or insecure
        with self._lock:
            if plain not in self._accesses:
                self._accesses[plain] = RegistryAccess(plain_http=plain, ca_file=self._options.artifact_access.ca_file)
            return self._accesses[plain]

    def _verify_key(self) -> PublicKey | None:
        path = self._options.artifact_access.verify_key
        if path is not None and self._key is None:
            from fluxform.sources.oci.cosignkey import load_public_key

            self._key = load_public_key(path)
        return self._key


def owner_source_revision(settings: PlanSettings, revision: str, source: str) -> tuple[str, str]:
    """(revision, artifact digest) a state records for an owner reading `source`
    (`Kind/namespace/name`) in a plan with these settings and source `revision`: its own
    artifact's pinned reference when the plan mapped that source to one, else the plan's
    revision (digest "" unless the fleet itself is an artifact)."""
    parts = source.split("/")
    keys = {source, "/".join(parts[1:]), parts[-1]} if len(parts) == 3 else {source}
    for mapping in settings.artifact_sources:
        if mapping.name in keys:
            return mapping.path, _split_pinned(mapping.path)[1]
    return revision, _split_pinned(settings.artifact)[1] if settings.artifact else ""


def _commit_of(annotations: Mapping[str, str]) -> str:
    """The git commit an artifact was pushed from (`org.opencontainers.image.revision`,
    `<branch>@sha1:<commit>` or `sha1:<commit>`): charts built from the fleet's GitRepository
    are versioned with it, as source-controller versions them from the checkout."""
    from fluxform.sources.oci.format import REVISION_ANNOTATION

    revision = annotations.get(REVISION_ANNOTATION, "")
    commit = revision.rpartition("sha1:")[2] if "sha1:" in revision else ""
    return commit if re.fullmatch(r"[0-9a-f]{40}", commit) else ""


def _unpinned(reference: str) -> str:
    return _split_pinned(reference)[0]


def _verify_of(body: Mapping[str, Any] | None) -> Mapping[str, Any]:
    verify = ((body or {}).get("spec") or {}).get("verify")
    return verify if isinstance(verify, Mapping) else {}


def _insecure(body: Mapping[str, Any]) -> bool:
    return bool((body.get("spec") or {}).get("insecure"))


@contextlib.contextmanager
def opened_artifacts(fleet: FleetOptions, *, check_pins: bool = False) -> Iterator[OpenedArtifacts]:
    """The run's artifacts: the fleet's opened now (a bad one fails before anything is
    rendered), sources' as discovery asks for them; all removed when the context closes.
    `check_pins` (apply): pinned tags must still point at their digests (TagMoved)."""
    with contextlib.ExitStack() as stack:
        opened = OpenedArtifacts(fleet, stack, check_pins=check_pins)
        opened.open_fleet()
        yield opened
