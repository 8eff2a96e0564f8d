"""Hypothesis strategies for plan files: any PlanFile the types allow, with masked manifests.

@given(plan_files())
def test_something(plan_file: PlanFile) -> None: ...
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from fluxform.decrypt.mask import Masker
from fluxform.objects import RBAC_KINDS, ObjectId
from fluxform.planner.live.policy import FieldManagers
from fluxform.planner.model import HealthCheck, HealthCheckExpr, OwnerSpec, OwnerStatus, ReleaseTarget
from fluxform.planner.options import Policy
from fluxform.planner.plan import Action
from fluxform.planner.planfile import (
    FORMAT_VERSION,
    NotPlanned,
    PlanDiagnostic,
    PlanFile,
    PlanMode,
    PlannedChange,
    PlanOwner,
    PlanSource,
    StateRef,
)
from fluxform.planner.settings import LiveTarget, PlanSettings, SourceMapping

__all__ = ["manifests", "object_ids", "plan_files"]

_MASKER = Masker(b"fluxform-test-mask-key-0123456789")
_DNS = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
_TEXT = st.text(max_size=20)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT


@st.composite
def object_ids(draw: st.DrawFn) -> ObjectId:
    kind = draw(st.sampled_from(["ConfigMap", "Deployment", "Kustomization", "HelmRelease", "ClusterRole", "Widget"]))
    name = draw(_DNS)
    if kind in RBAC_KINDS and draw(st.booleans()):
        name = f"system:{name}"  # written as '__' in the inventory id
    group = draw(st.sampled_from(["", "apps", "kustomize.toolkit.fluxcd.io", "example.com"]))
    return ObjectId(draw(st.just("") | _DNS), name, group, kind)


_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """A ConfigMap-like object, or a Secret masked as every plan masks it."""
    meta = {"name": draw(_DNS), "labels": draw(st.dictionaries(_DNS, _TEXT, max_size=2))}
    if draw(st.booleans()):
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
        secret["stringData"] = draw(st.dictionaries(_DNS, _TEXT, max_size=3))
        return _MASKER.mask_manifest(secret)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": draw(_VALUES)}


_MANIFEST_OR_NONE = st.none() | manifests()

planned_changes = st.builds(
    PlannedChange,
    id=object_ids(),
    api_version=st.sampled_from(["v1", "apps/v1", "example.com/v1alpha1"]),
    owner=object_ids(),
    action=st.sampled_from(list(Action)),
    reason=_TEXT,
    before=_MANIFEST_OR_NONE,
    after=_MANIFEST_OR_NONE,
    desired=_MANIFEST_OR_NONE,
    live_resource_version=st.none() | st.just("") | st.from_regex(r"[0-9]{1,6}", fullmatch=True),
    adopted=st.booleans(),
)

owner_specs = st.builds(
    OwnerSpec,
    suspend=st.booleans(),
    interval=_TEXT,
    timeout=_TEXT,
    wait=st.booleans(),
    force=st.booleans(),
    service_account_name=_TEXT,
    target_namespace=_TEXT,
    health_checks=st.lists(st.builds(HealthCheck, _TEXT, _TEXT, _TEXT, _TEXT), max_size=2).map(tuple),
    health_check_exprs=st.lists(st.builds(HealthCheckExpr, _TEXT, _TEXT, _TEXT, _TEXT, _TEXT), max_size=2).map(tuple),
    release=st.none() | st.builds(ReleaseTarget, _TEXT, _TEXT, _TEXT),
)

plan_owners = st.builds(
    PlanOwner,
    id=object_ids(),
    kind=st.sampled_from(["Kustomization", "HelmRelease", "Root"]),
    status=st.sampled_from(list(OwnerStatus)),
    source=_TEXT,
    path=_TEXT,
    depends_on=st.lists(object_ids(), max_size=2).map(tuple),
    parent=st.none() | object_ids(),
    prune=st.booleans(),
    objects=st.integers(0, 10_000),
    file=_TEXT,
    spec=owner_specs,
)

plan_settings = st.builds(
    PlanSettings,
    repo_root=_TEXT,
    sources=st.lists(st.builds(SourceMapping, _TEXT, _TEXT), max_size=2).map(tuple),
    self_source=_TEXT,
    strict_substitute=st.booleans(),
    missing_sources=st.sampled_from(list(Policy)),
    missing_objects=st.sampled_from(list(Policy)),
    missing_keys=st.sampled_from(list(Policy)),
    missing_charts=st.sampled_from(list(Policy)),
    offline=st.booleans(),
    chart_cache=_TEXT,
    field_manager=_TEXT,
    fleet_path=_TEXT,
)

live_targets = st.builds(
    LiveTarget,
    context=_TEXT,
    server=_TEXT,
    field_managers=st.builds(FieldManagers, _TEXT, _TEXT, _TEXT, _TEXT),
    comparison=_TEXT,
)


@st.composite
def plan_files(draw: st.DrawFn) -> PlanFile:
    live = draw(st.none() | live_targets)
    return PlanFile(
        format_version=FORMAT_VERSION,
        fluxform_version=draw(_TEXT),
        target=draw(_TEXT),
        mode=PlanMode.OFFLINE if live is None else PlanMode.LIVE,
        source=PlanSource(draw(_TEXT)),
        state=StateRef(draw(_TEXT), draw(st.integers(0, 2**31))),
        settings=draw(plan_settings),
        live=live,
        owners=tuple(draw(st.lists(plan_owners, max_size=3))),
        changes=tuple(draw(st.lists(planned_changes, max_size=4))),
        drift=tuple(draw(st.lists(planned_changes, max_size=2))),
        not_planned=tuple(draw(st.lists(st.builds(NotPlanned, object_ids(), _TEXT, _TEXT), max_size=2))),
        diagnostics=tuple(draw(st.lists(st.builds(PlanDiagnostic, _TEXT, st.none() | object_ids()), max_size=2))),
    )
