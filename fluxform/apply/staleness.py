"""Is the plan still the truth? Apply refuses a plan whose world moved, with one line naming
what moved (Terraform's saved-plan rule, plus the cluster):

- the state: its lineage or serial is not the one the plan was made against (someone
  applied, or it is another state);
- the source: the recorded revision renders to another revision, another set of owners or
  objects, or an object whose masked manifest no longer has the planned digest (a changed
  file, decryption key, chart or looked-up value);
- the cluster: an object the plan creates, changes or deletes has another resourceVersion
  than the one the plan saw (or appeared, or vanished).

The re-rendered objects (decrypted, in memory) are what apply sends: the plan file holds
only masked manifests, and the digest check proves the two agree.

    check_state(plan, state)
    objects = check_render(plan, desired, masking, flux_served=False)
    check_live(plan, cluster, mapper)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.mapping import KindMapping, RestMapper
from fluxform.cluster.read import read_live
from fluxform.errors import PlanError
from fluxform.objects import ObjectId
from fluxform.planner.live.decide import live_key
from fluxform.planner.live.policy import FLUX_GROUPS
from fluxform.planner.model import DesiredObject, DesiredState
from fluxform.planner.plan import Action, Masking
from fluxform.planner.planfile import PlanFile
from fluxform.state.model import StateFile, canonical_digest

__all__ = ["StalePlan", "check_live", "check_render", "check_state"]

_HINT = "plan again (fluxform plan ... --out FILE) and apply the new plan"
_LIVE_CHECKED = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)


class StalePlan(PlanError):
    """The plan was made against a state, source or cluster that has changed since."""


def _stale(summary: str, *, subject: ObjectId | None = None) -> StalePlan:
    return StalePlan(f"the plan is stale: {summary}", subject=subject, hint=_HINT)


def check_state(plan: PlanFile, state: StateFile | None) -> None:
    lineage, serial = (state.lineage, state.serial) if state is not None else ("", 0)
    if plan.state.lineage != lineage:
        if not plan.state.lineage:
            raise _stale(f"it was made without a state, and the state now exists (lineage {lineage}, serial {serial})")
        if not lineage:
            raise _stale(f"it was made against state lineage {plan.state.lineage}, and there is no state now")
        raise _stale(f"it was made against state lineage {plan.state.lineage}, the state now has lineage {lineage}")
    if plan.state.serial != serial:
        raise _stale(f"the state moved from serial {plan.state.serial} to {serial} since the plan (someone applied)")


def check_render(
    plan: PlanFile, desired: DesiredState, masking: Masking, *, flux_served: bool
) -> dict[ObjectId, DesiredObject]:
    """The re-rendered objects the plan's changes send, by id; StalePlan when the render is
    not the planned one. Flux's own objects are left out when the cluster does not serve
    them (the plan left them out too)."""
    if desired.source_revision != plan.source.revision:
        raise _stale(
            f"the source is at revision {desired.source_revision}, the plan was made at {plan.source.revision}"
        )
    unmatched = {o.id: o for o in desired.owners}
    for owner in plan.owners:
        now = unmatched.pop(owner.id, None)
        if now is None:
            raise _stale(f"{owner.id} is no longer part of the fleet")
        if now.status is not owner.status:
            if now.reason:
                # not a moved world but a setting apply was not given (a decryption key, a
                # source): the reason says which, and planning again would not help
                raise PlanError(f"apply cannot render {owner.id} as the plan did: {now.reason}")
            raise _stale(f"{owner.id} was {owner.status} in the plan and is {now.status} now")
    if unmatched:
        raise _stale(f"{min(unmatched)} is part of the fleet now, not of the plan")
    rendered = {
        obj.id: obj
        for owner in desired.owners
        for obj in owner.objects
        if flux_served or obj.id.group not in FLUX_GROUPS
    }
    planned = {c.id: c for c in plan.changes if c.desired is not None}
    for oid, change in planned.items():
        obj = rendered.get(oid)
        if obj is None:
            raise _stale("it is no longer rendered", subject=oid)
        if obj.owner != change.owner:
            raise _stale(f"it is rendered by {obj.owner} now, by {change.owner} in the plan", subject=oid)
        if canonical_digest(masking(obj.body, obj.sensitive_paths)) != change.digest:
            raise _stale("it renders differently than planned (its masked digest changed)", subject=oid)
    extra = sorted(set(rendered) - set(planned))
    if extra:
        raise _stale("it is rendered now and was not in the plan", subject=extra[0])
    return rendered


def check_live(plan: PlanFile, cluster: ClusterClient, mapper: RestMapper) -> None:
    """The live resourceVersion of every object the plan creates, changes or deletes is still
    the one the plan saw ("" = absent): one LIST per type, values dropped as pages arrive."""
    wanted: dict[KindMapping, dict[str, set[str]]] = {}
    expected: dict[ObjectId, tuple[ObjectId, str]] = {}
    for change in plan.changes:
        if change.action not in _LIVE_CHECKED or change.live_resource_version is None:
            continue
        mapping = mapper.resolve(change.api_version, change.id.kind)
        if not isinstance(mapping, KindMapping) or not mapping.served:
            continue  # its CRD is created by this plan: nothing to compare yet
        key = live_key(change.id, mapping)
        wanted.setdefault(mapping, {}).setdefault(key.namespace, set()).add(key.name)
        expected[key] = (change.id, change.live_resource_version)
    snapshot = read_live(cluster, wanted, keep=_version_only)
    for (group, kind, namespace), failure in sorted(snapshot.unreadable.items()):
        where = f" in namespace {namespace}" if namespace else ""
        raise PlanError(
            f"cannot check the plan against the cluster: listing {kind}.{group}{where} was refused "
            f"(HTTP {failure.status} {failure.reason})",
            hint="apply needs get/list on every type it changes",
        )
    for key, (oid, seen) in sorted(expected.items()):
        live = snapshot.get(key)
        now = str(((live or {}).get("metadata") or {}).get("resourceVersion") or "")
        if now == seen:
            continue
        if not seen:
            raise _stale("it was created in the cluster since the plan", subject=oid)
        if not now:
            raise _stale("it was deleted from the cluster since the plan", subject=oid)
        raise _stale(f"it changed in the cluster since the plan (resourceVersion {seen}, now {now})", subject=oid)


def _version_only(oid: ObjectId, item: dict[str, Any]) -> dict[str, Any]:
    meta: Mapping[str, Any] = item.get("metadata") or {}
    return {"metadata": {"resourceVersion": meta.get("resourceVersion")}}
