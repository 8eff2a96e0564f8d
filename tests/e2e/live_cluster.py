"""Test support for live plans: put a fleet into the emulator the way an apply would
(server-side apply of every desired object, CRDs and Namespaces first) and record the
matching state through the real state model and backend. Apply itself lands in a later
wave; this stands in for it.

    state = apply_fleet(kubeapi, STAGING, state_file, keys_dir=KEYS)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fluxform.cluster.client import ClusterOptions, connect
from fluxform.decrypt.mask import Masker
from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache, default_cache_dir
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.live.policy import FLUX_GROUPS, FieldManagers
from fluxform.planner.live.workflow import LiveOptions, plan_fleet_live, plan_live
from fluxform.planner.model import DesiredObject, DesiredState
from fluxform.planner.plan import Masking, Plan
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import SecretOptions
from fluxform.planner.workflow import FleetRequest, load_state, rendered_fleet
from fluxform.state.local import LocalBackend
from fluxform.state.model import OwnerState, StateFile, StateObject, canonical_digest, new_state, next_revision
from tests.kubeapi import KubeApi
from tests.support.cli import KEYS

HELM = HelmOptions()  # as the CLI's defaults: the example fleet's charts are vendored
FLUX_CRDS = (
    ("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations", "v1"),
    ("source.toolkit.fluxcd.io", "GitRepository", "gitrepositories", "v1"),
    ("helm.toolkit.fluxcd.io", "HelmRelease", "helmreleases", "v2"),
)


def request(keys_dir: Path | None = KEYS) -> FleetRequest:
    """Builds are cached under $FLUXFORM_CACHE_DIR (content-addressed, so sharing it between
    tests is safe; see `shared_build_cache`)."""
    return FleetRequest(
        discover=DiscoverOptions(jobs=2, cache=BuildCache(default_cache_dir() / "builds"), helm=helm_hook(HELM)),
        secrets=SecretOptions(keys_dir=keys_dir, use_env=False),
    )


def plan(
    api: KubeApi,
    fleet: Path,
    state_file: Path | None = None,
    *,
    keys_dir: Path | None = KEYS,
    field_manager: str = "",
    always_dry_run: bool = False,
    kubeconfig: Path | None = None,
) -> Plan:
    return plan_fleet_live(
        fleet,
        request(keys_dir),
        state_path=state_file,
        cluster_options=ClusterOptions(kubeconfig=kubeconfig or api.kubeconfig),
        live_options=LiveOptions(field_manager=field_manager, always_dry_run=always_dry_run),
        helm=HELM,
    )


def crd(group: str, kind: str, plural: str, version: str, scope: str = "Namespaced") -> dict[str, Any]:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": scope,
            "versions": [{"name": version, "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


def install_flux_crds(api: KubeApi) -> None:
    for group, kind, plural, version in FLUX_CRDS:
        api.server.apply(crd(group, kind, plural, version), manager="flux-install")


def ensure_namespace(api: KubeApi, name: str) -> None:
    api.server.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, manager="bootstrap")


def _stage(obj: DesiredObject) -> int:
    if obj.id.kind == "CustomResourceDefinition":
        return 0
    return 1 if obj.id.kind == "Namespace" else 2


def render(fleet: Path, keys_dir: Path | None = KEYS) -> DesiredState:
    """The desired state (decrypted, in memory: test use only)."""
    with rendered_fleet(fleet, request(keys_dir)) as (desired, _):
        return desired


def apply_fleet(
    api: KubeApi,
    fleet: Path | DesiredState,
    state_file: Path,
    *,
    manager: str = "",
    skip: Callable[[DesiredObject], bool] = lambda obj: False,
) -> StateFile:
    """Apply every desired object (force) and write the state recording them; `manager`
    "" applies as the planner would choose (Flux's controllers when the CRDs are there)."""
    desired = render(fleet) if isinstance(fleet, Path) else fleet
    base = load_state(state_file) or new_state("kubeapi")
    masking = masking_for(base)
    served_flux = api.server.state.registry.by_kind("kustomize.toolkit.fluxcd.io", "Kustomization") is not None
    managers = FieldManagers.choose(flux_installed=served_flux, override=manager)
    applied: dict[ObjectId, list[StateObject]] = {owner.id: [] for owner in desired.owners}
    objects = [obj for owner in desired.owners for obj in owner.objects]
    for obj in sorted(objects, key=_stage):
        if skip(obj) or (obj.id.group in FLUX_GROUPS and not served_flux):
            continue
        api.server.apply(dict(obj.body), manager=managers.for_owner(obj.owner), force=True)
        masked = masking(obj.body, obj.sensitive_paths)
        applied[obj.owner].append(StateObject(obj.id, obj.api_version, canonical_digest(masked), masked))
    owners = {
        owner.id: OwnerState(
            owner.id,
            owner.prune,
            desired.source_revision,
            "2026-01-01T00:00:00Z",
            "test",
            _in_build_order(applied[owner.id], owner.objects),
            field_manager=managers.for_owner(owner.id),
        )
        for owner in desired.owners
    }
    return LocalBackend(state_file).write(next_revision(base, owners, operation="apply", by="test"))


def masking_for(state: StateFile | None) -> Masking:
    """The masking a plan with this state uses (the state's key; a fixed one without)."""
    masker = Masker(state.mask_key_bytes() if state is not None else b"fluxform-test-mask-key-32-bytes!")

    def mask(manifest: Mapping[str, Any], paths: Sequence[tuple[str | int, ...]] = ()) -> dict[str, Any]:
        return masker.mask_manifest(manifest, sensitive_paths=paths)

    return mask


def plan_desired(api: KubeApi, desired: DesiredState, state_file: Path | None, *, always_dry_run: bool = False) -> Plan:
    """plan_live on an already rendered fleet (what plan_fleet_live does after rendering)."""
    state = load_state(state_file)
    with connect(ClusterOptions(kubeconfig=api.kubeconfig)) as cluster:
        return plan_live(
            desired,
            state,
            masking_for(state),
            cluster,
            target="test",
            options=LiveOptions(always_dry_run=always_dry_run),
        )


def _in_build_order(applied: Iterable[StateObject], order: Iterable[DesiredObject]) -> tuple[StateObject, ...]:
    rank = {obj.id: i for i, obj in enumerate(order)}
    return tuple(sorted(applied, key=lambda s: rank[s.id]))


def changes_by_action(result: Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for change in result.changes:
        out.setdefault(str(change.action), []).append(str(change.id))
    return out


def by_id(result: Plan, text: str) -> Any:
    return next(c for c in result.changes if str(c.id) == text)


def patch_live(api: KubeApi, obj: Mapping[str, Any], *, manager: str = "kubectl-edit") -> None:
    """Change a live object the way `kubectl edit` would (an Update by another manager)."""
    api.server.apply(dict(obj), manager=manager, force=True)


def edit_live(
    api: KubeApi, live: Mapping[str, Any], *, metadata: Mapping[str, Any] | None = None, **fields: Any
) -> None:
    """`patch_live` of the fields given: top-level `fields` of `live` (as read), and `metadata`
    fields beside its name and namespace."""
    meta = {key: live["metadata"][key] for key in ("name", "namespace") if live["metadata"].get(key)}
    patch_live(
        api,
        {"apiVersion": live["apiVersion"], "kind": live["kind"], "metadata": {**meta, **(metadata or {})}, **fields},
    )
