"""The plan workflow the CLI runs: read state, build the fleet (decrypting), diff, mask.

Kept apart from cli.py so tests and other front ends call the same sequence.

    plan = plan_fleet(Path("clusters/staging"), FleetRequest(), state_path=Path("state.json"))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fluxform.errors import Diagnostic
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.model import Cause, DesiredState
from fluxform.planner.options import Policy
from fluxform.planner.partial import PartialPolicy
from fluxform.planner.plan import Plan, plan_offline
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import FleetSecrets, SecretOptions
from fluxform.planner.settings import PlanSettings, SourceMapping
from fluxform.planner.validation import ValidationOptions, owner_validator
from fluxform.state.backend import StateBackend
from fluxform.state.identity import Identity, StateCheck, check_state_identity
from fluxform.state.local import LocalBackend
from fluxform.state.model import StateFile
from fluxform.state.rollbacks import rolled_back_note

if TYPE_CHECKING:
    from fluxform.planner.artifacts import OpenedArtifacts

__all__ = [
    "FleetRequest",
    "ValidationOptions",
    "checked_state_identity",
    "load_state",
    "plan_fleet",
    "plan_settings",
    "rendered_fleet",
]


@dataclass(frozen=True)
class FleetRequest:
    discover: DiscoverOptions = field(default_factory=DiscoverOptions)
    secrets: SecretOptions = field(default_factory=SecretOptions)
    partial: PartialPolicy = field(default_factory=PartialPolicy)  # owners left out the run accepts
    validation: ValidationOptions = field(default_factory=ValidationOptions)  # schema check (off by default)
    #: OCI artifacts the render reads (planner/artifacts.py): recorded pinned in the plan's settings
    artifacts: OpenedArtifacts | None = None
    target: str = ""  # what the plan says was planned ("" = the path rendered)

    def discover_options(self) -> DiscoverOptions:
        """Discovery's options, with the schema check when it is on."""
        if not self.validation.enabled:
            return self.discover
        return replace(self.discover, validator=owner_validator(self.validation))


def checked_state_identity(
    desired: DesiredState,
    state: StateFile | None,
    source: Path | StateBackend | None,
    current: Identity,
    force: bool,
) -> DesiredState:
    """`desired`, after checking the state belongs to its cluster and fleet path (raises
    StateError unless `force`, which adds the mismatch as a warning)."""
    if state is None:
        return desired
    current = replace(current, fleet_path=str(desired.settings.get("fleet_path", "")))
    location = f"file {source}" if isinstance(source, Path) else (source.location if source else "")
    warning = check_state_identity(state, current, location=location, force=force)
    warnings = [warning] if warning is not None else []
    rolled_back = rolled_back_note(state, desired.source_revision)
    if rolled_back:
        warnings.append(Diagnostic(rolled_back))
    return replace(desired, diagnostics=(*desired.diagnostics, *warnings)) if warnings else desired


def load_state(source: Path | StateBackend | None) -> StateFile | None:
    """The recorded state: from a local file (None when there is none yet) or a backend."""
    if source is None:
        return None
    if isinstance(source, Path):
        return LocalBackend(source).read() if source.exists() else None
    return source.read()


@contextlib.contextmanager
def rendered_fleet(path: Path, request: FleetRequest) -> Iterator[tuple[DesiredState, FleetSecrets]]:
    """The desired state, with the secrets handle still open (for masking or rendering)."""
    with FleetSecrets(request.secrets) as secrets:
        desired = discover(path, replace(request.discover_options(), decryptor=secrets))  # scrubbed there
        if request.artifacts is not None:
            request.artifacts.check(desired)
        warnings = (*desired.diagnostics, *secrets.scrub_diagnostics(secrets.diagnostics()))
        yield replace(desired, diagnostics=warnings), secrets


def plan_settings(request: FleetRequest, helm: HelmOptions | None) -> PlanSettings:
    """The settings a plan records, read from the options the render really uses (`helm`:
    those its Helm hook was made from; None: Helm's defaults)."""
    discover, helm = request.discover, helm or HelmOptions()

    def policy(cause: Cause) -> Policy:
        return Policy.WARN if cause in request.partial.accepted else Policy.ERROR

    settings = PlanSettings(
        repo_root=str(discover.repo_root) if discover.repo_root is not None else "",
        root_kustomization=str(discover.root_kustomization) if discover.root_kustomization is not None else "",
        sources=tuple(SourceMapping(name, str(path)) for name, path in sorted(discover.sources.items())),
        strict_substitute=discover.strict_substitute,
        missing_sources=policy(Cause.SOURCE),
        missing_objects=policy(Cause.OBJECT),
        missing_keys=policy(Cause.KEYS),
        missing_charts=policy(Cause.CHART),
        offline=helm.offline,
        chart_cache=str(helm.cache.root) if helm.cache is not None else "",
    )
    return request.artifacts.settings(settings) if request.artifacts is not None else settings


def plan_fleet(
    path: Path,
    request: FleetRequest,
    *,
    state_path: Path | StateBackend | None = None,
    helm: HelmOptions | None = None,
    state_check: StateCheck | None = None,
) -> Plan:
    """The offline plan. With `helm`, HelmReleases render with a hook made from it (replacing
    the request's), so the settings the plan records are the ones used. The state must
    belong to the fleet path (and the context `state_check` names), unless forced."""
    if helm is not None:
        request = replace(request, discover=replace(request.discover, helm=helm_hook(helm)))
    state = load_state(state_path)
    check = state_check or StateCheck()
    with rendered_fleet(path, request) as (desired, secrets):
        desired = checked_state_identity(desired, state, state_path, Identity(context=check.context), check.force)
        masking = secrets.masking(state)
        settings = plan_settings(request, helm)
        return plan_offline(desired, state, masking, target=request.target or str(path), settings=settings)
