"""Garbage collection of one owner (flux-semantics 4.6), run after its apply and health checks
succeeded (a deliberate deviation: Flux prunes before its health checks; pruning last means a
failed health check has deleted nothing that would have to be restored).

What the plan marked for deletion is checked again on the live object just before it goes:
it must still carry this owner's labels (an object another Kustomization adopted since is
left alone) and none of the prune/reconcile/ssa policies that keep it. Deletions go in
reverse apply order (webhooks first, Namespaces and CRDs last), one by one, with background
propagation and a uid precondition, so the object deleted is the one that was checked. A
delete that fails keeps the object in the inventory: the next apply tries again.

    results, kept = prune(ctx, owner_id, deletions)
"""

from __future__ import annotations

from collections.abc import Sequence

from fluxform.apply.context import RunContext
from fluxform.apply.report import ObjectAction, ObjectResult
from fluxform.apply.stages import prune_order
from fluxform.apply.writes import mapping_for, record_pre_image
from fluxform.cluster.lookup import get_object
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import Propagation, delete
from fluxform.errors import ClusterError
from fluxform.objects import ObjectId
from fluxform.planner.live.decide import live_key
from fluxform.planner.live.policy import owner_mismatch, prune_blocked
from fluxform.planner.planfile import PlannedChange

__all__ = ["prune"]


def prune(
    ctx: RunContext, owner: ObjectId, deletions: Sequence[PlannedChange]
) -> tuple[list[ObjectResult], list[tuple[PlannedChange, ClusterError]]]:
    """Delete what the owner's new inventory lacks; returns each object's result and the
    deletes that failed, with their errors (those objects stay in the inventory)."""
    results: list[ObjectResult] = []
    errors: list[tuple[PlannedChange, ClusterError]] = []
    for change in prune_order(deletions, key=lambda c: c.id):
        ctx.check()
        mapping = mapping_for(ctx, change.api_version, change.id.kind, change.id)
        key = live_key(change.id, mapping)
        ref = ObjectRef(mapping, key.namespace, key.name)
        live = get_object(ctx.cluster, ref)
        if live is None:
            result = ObjectResult(change.id, ObjectAction.DELETED, "already gone")
        elif keep := prune_blocked(live) or owner_mismatch(live, owner):
            result = ObjectResult(change.id, ObjectAction.KEPT, keep)
        else:
            record_pre_image(ctx, owner, ref, "delete", live)
            uid = str((live.get("metadata") or {}).get("uid") or "")
            written = delete(ctx.cluster, ref, propagation=Propagation.BACKGROUND, uid=uid)
            if not written.ok and not written.gone:
                errors.append((change, written.error()))
                continue
            result = ObjectResult(change.id, ObjectAction.DELETED)
        results.append(result)
        ctx.observer.object_done(owner, result)
    return results, errors
