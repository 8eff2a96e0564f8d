"""The plan against a live cluster: desired state + state file + what the cluster holds.

Steps: map every kind (discovery, plus CRDs the plan itself creates), read the live objects
with one LIST per type, dry-run server-side apply what could change (Flux's compare of
dry-run result and live object decides update or no-op), then pair recorded objects the
repo dropped with their live copies for prune. Secret values are masked the moment they
arrive (list pages, dry-run answers); nothing below sees plaintext.

    plan = plan_fleet_live(Path("clusters/prod"), FleetRequest(), state_path=state,
                           cluster_options=ClusterOptions(context="prod"))

A live plan's changes are `LiveChange`s (the live resourceVersion seen, adoption) and it
carries a `LiveTarget` (cluster, field managers, comparison); `planner/planfile.py` records
both in the plan file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.cluster.discovery import Discovery
from fluxform.cluster.mapping import RestMapper
from fluxform.planner.live.decide import LiveChange
from fluxform.planner.live.helm_releases import InstalledReleases, read_release_views
from fluxform.planner.live.policy import FLUX_MARKER, FieldManagers
from fluxform.planner.live.run import LiveOptions, LiveRun
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Masking, Plan, with_recorded_dependants
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import FleetSecrets
from fluxform.planner.settings import PlanSettings
from fluxform.planner.workflow import FleetRequest, checked_state_identity, load_state, plan_settings, rendered_fleet
from fluxform.state.backend import StateBackend
from fluxform.state.identity import Identity
from fluxform.state.model import StateFile

__all__ = ["LiveChange", "LiveOptions", "plan_fleet_live", "plan_live", "rendered_for_cluster"]

_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


def plan_fleet_live(
    path: Path,
    request: FleetRequest,
    *,
    state_path: Path | StateBackend | None,
    cluster_options: ClusterOptions,
    live_options: LiveOptions | None = None,
    helm: HelmOptions | None = None,
    force_state: bool = False,
) -> Plan:
    """What `fluxform plan` runs with a cluster: connect and read discovery first (an
    unreachable cluster fails before the fleet is built), then build, check the state is
    this cluster's and this fleet path's (fluxform.state.identity; `force_state` makes a
    mismatch a warning), then plan.

    With `helm` (the options the CLI gives `helm_hook`), HelmReleases render against the
    cluster's Kubernetes version and API versions (Helm's `.Capabilities`), as
    helm-controller renders them; the request's own Helm hook is replaced."""
    state = load_state(state_path)
    with connect(cluster_options) as cluster:
        discovery = Discovery(cluster)
        discovery.serves_group("")
        with rendered_for_cluster(path, request, cluster, discovery, helm) as (desired, secrets, releases):
            current = Identity(context=cluster.context, server=cluster.server)
            desired = checked_state_identity(desired, state, state_path, current, force_state)
            return plan_live(
                desired,
                state,
                secrets.masking(state),
                cluster,
                target=request.target or str(path),
                options=live_options or LiveOptions(),
                discovery=discovery,
                settings=plan_settings(request, helm),  # after the render: artifacts it pinned
                installed=releases,
            )


@contextlib.contextmanager
def rendered_for_cluster(
    path: Path, request: FleetRequest, cluster: ClusterClient, discovery: Discovery, helm: HelmOptions | None
) -> Iterator[tuple[DesiredState, FleetSecrets, InstalledReleases]]:
    """The fleet rendered as the cluster's controllers would (kinds without a CRD in the
    fleet scoped by discovery; with `helm`, HelmReleases against the cluster's version, API
    versions and installed releases), with its secrets handle still open, and Helm's
    storage as read for it (plan_live's `installed`)."""
    releases = InstalledReleases(cluster)
    request = replace(request, discover=replace(request.discover, cluster_scope=_scope_of(discovery)))
    if helm is not None:
        request = _with_capabilities(request, helm, discovery, releases)
    if request.validation.enabled and not request.validation.kube_version:  # the cluster's schemas
        validation = replace(request.validation, kube_version=discovery.server_version())
        request = replace(request, validation=validation)
    with rendered_fleet(path, request) as (desired, secrets):
        yield replace(desired, diagnostics=(*desired.diagnostics, *releases.diagnostics())), secrets, releases


def _with_capabilities(
    request: FleetRequest, helm: HelmOptions, discovery: Discovery, releases: InstalledReleases
) -> FleetRequest:
    capable = replace(
        helm,
        kube_version=discovery.server_version() or helm.kube_version,
        api_versions=discovery.api_versions(),
        installed_release=releases.revision,
    )
    return replace(request, discover=replace(request.discover, helm=helm_hook(capable)))


def _scope_of(discovery: Discovery) -> Callable[[str, str], bool | None]:
    """Whether the cluster serves (group, kind) namespaced (None: it does not serve it): the
    scope of kinds whose CRD is not in the fleet, as the cluster will decide it."""

    def scope(group: str, kind: str) -> bool | None:
        served = discovery.find(group, kind)
        return served[0].namespaced if served else None

    return scope


def plan_live(
    desired: DesiredState,
    state: StateFile | None,
    masking: Masking,
    cluster: ClusterClient,
    *,
    target: str,
    options: LiveOptions | None = None,
    discovery: Discovery | None = None,
    settings: PlanSettings | None = None,
    installed: InstalledReleases | None = None,
) -> Plan:
    """`installed`: Helm's storage as already read for this plan (one LIST per storage
    namespace, shared with the render's revision lookups)."""
    options = options or LiveOptions()
    discovery = discovery or Discovery(cluster)
    desired = with_recorded_dependants(desired, state)
    objects = [obj for owner in desired.owners for obj in owner.objects]
    mapper = RestMapper(discovery, [o.body for o in objects if (o.id.group, o.id.kind) == _CRD])
    managers = FieldManagers.choose(flux_installed=bool(discovery.find(*FLUX_MARKER)), override=options.field_manager)
    releases = read_release_views(installed or InstalledReleases(cluster), desired, masking, mapper)
    run = LiveRun(desired, state, masking, cluster, mapper, managers, options, releases)
    return run.plan(target, settings or PlanSettings())
