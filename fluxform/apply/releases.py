"""The seam between the apply executor and Helm: a HelmRelease owner becomes a real Helm
release (install, upgrade, remediation, history), never a set of objects applied one by one.

Server-side applying a release's objects directly would leave the cluster with objects no
Helm release records: `helm history` empty, helm-controller installing over them, nothing to
roll back to. So the executor hands each HelmRelease owner with changes to a
`ReleaseApplier` (apply/helm_releases.py, over fluxform/helm/release.py and the Helm SDK) and
records what it did. Without one (a library caller), or when it cannot take the release, the
owner is refused before anything is written.

    applier.refusal(rendered)            # "" when it can be applied
    before = TouchedRelease(request, *applier.latest(request))   # noted before Helm acts
    outcome = applier.apply_release(request)
    applier.undo(before)                 # a failed apply's rollback: "rolled back to revision 3"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fluxform.helm.release import ReleaseOutcome
from fluxform.objects import ObjectId
from fluxform.planner.model import Owner
from fluxform.planner.planfile import PlanOwner

__all__ = ["NO_RELEASE_APPLIER", "ReleaseApplier", "ReleaseOutcome", "ReleaseRequest", "TouchedRelease"]

#: Why a HelmRelease is not applied when no ReleaseApplier is wired in.
NO_RELEASE_APPLIER = (
    "not applied: a HelmRelease is applied as a Helm release, and this apply was given no Helm release "
    "applier; its objects are never applied one by one (that would leave a broken release)"
)


@dataclass(frozen=True)
class ReleaseRequest:
    """One HelmRelease to install or upgrade, exactly as the plan rendered it."""

    owner: PlanOwner  # what the plan recorded (release target, spec, timeout)
    rendered: Owner = field(repr=False)  # the re-rendered owner: its objects hold decrypted values
    manifest: Mapping[str, Any] | None = field(repr=False)  # the HelmRelease object as rendered (None: unknown)
    field_manager: str  # helm-controller's when the cluster runs Flux, else fluxform (or --field-manager)
    timeout: float | None = None  # --timeout, else the HelmRelease's own
    previous: tuple[str, str] | None = None  # release name and namespace its last apply recorded (state)


@dataclass(frozen=True)
class TouchedRelease:
    """A release an apply was about to install or upgrade, as it was just before: what a
    rollback of that apply returns it to (no values: Helm's storage holds them)."""

    request: ReleaseRequest = field(repr=False)
    revision_before: int | None  # the latest revision before (None: no release)
    status_before: str  # its Helm status ("" without one)

    @property
    def owner(self) -> ObjectId:
        return self.request.owner.id


class ReleaseApplier(Protocol):
    """Installs or upgrades one HelmRelease; raises a FluxformError (naming the HelmRelease)
    when Helm failed, after any remediation the HelmRelease asks for."""

    def refusal(self, rendered: Owner) -> str:
        """Why this HelmRelease cannot be applied at all ("" when it can): asked before
        anything is written, so such an owner is left out (--partial), never half-applied."""
        ...

    def apply_release(self, request: ReleaseRequest) -> ReleaseOutcome: ...

    def latest(self, request: ReleaseRequest) -> tuple[int | None, str]:
        """The release's latest revision and its status (None, "": no release), read just
        before `apply_release`, so a rollback knows where to return."""
        ...

    def undo(self, touched: TouchedRelease, *, timeout: float | None = None) -> str:
        """Return the release to `touched.revision_before` (Helm rollback), or uninstall it
        when it had none, Helm's wait bounded by `timeout` seconds when given; what was done,
        past tense ("" when nothing needed doing). Raises a FluxformError naming the release
        when Helm fails."""
        ...
