"""One object's write, as kustomize-controller makes it (flux-semantics 4.2, 4.4): read the
pre-image, server-side apply with the owner's field manager and `force` (Flux takes over
fields other managers own), and on an immutable-field refusal recreate the object, but only
when the owner allows it (`spec.force: true`, or the object's
`kustomize.toolkit.fluxcd.io/force: enabled`); otherwise fail naming the object and field.

    result = write_object(ctx, obj, owner=owner_id, manager="kustomize-controller", force=False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxform.apply.context import RunContext
from fluxform.apply.preimages import Touched, WriteAction
from fluxform.apply.report import ObjectAction, ObjectResult
from fluxform.cluster.errors import Refusal
from fluxform.cluster.lookup import get_object
from fluxform.cluster.mapping import KindMapping, Unmapped
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.watch import wait_for
from fluxform.cluster.write import Propagation, Written, apply, delete
from fluxform.decrypt.mask import LAST_APPLIED_ANNOTATION
from fluxform.errors import ClusterError
from fluxform.objects import ObjectId
from fluxform.planner.live.policy import force_enabled
from fluxform.planner.model import DesiredObject
from fluxform.state.model import canonical_digest

__all__ = ["mapping_for", "record_pre_image", "write_object"]


def mapping_for(ctx: RunContext, api_version: str, kind: str, subject: ObjectId) -> KindMapping:
    mapping = ctx.mapper.resolve(api_version, kind)
    if isinstance(mapping, Unmapped):
        raise ClusterError(f"cannot apply: {mapping.reason}", subject=subject)
    return mapping


def record_pre_image(
    ctx: RunContext,
    owner: ObjectId,
    ref: ObjectRef,
    action: WriteAction,
    pre_image: Mapping[str, Any] | None,
    paths: tuple[tuple[str | int, ...], ...] = (),
) -> None:
    """Keep the pre-image in memory and journal the write about to be sent (masked digest)."""
    digest = ""
    if pre_image is not None:
        keyed = (*paths, ("metadata", "annotations", LAST_APPLIED_ANNOTATION)) if paths else ()
        digest = canonical_digest(ctx.mask(pre_image, keyed))
    ctx.preimages.record(Touched(owner, ref, action, pre_image), digest=digest)


def write_object(ctx: RunContext, obj: DesiredObject, *, owner: ObjectId, manager: str, force: bool) -> ObjectResult:
    """Apply `obj`; `force`: the owner recreates objects whose immutable fields changed."""
    ctx.check()
    mapping = mapping_for(ctx, obj.api_version, obj.id.kind, obj.id)
    ref = ObjectRef.of(mapping, obj.body)
    live = get_object(ctx.cluster, ref)
    record_pre_image(ctx, owner, ref, "create" if live is None else "update", live, obj.sensitive_paths)
    written = apply(ctx.cluster, mapping, obj.body, field_manager=manager, force=True)
    if written.failure is not None and written.failure.refusal is Refusal.IMMUTABLE:
        if not (force or force_enabled(obj.body, live)):
            raise _immutable(written, owner)
        return _recreate(ctx, obj, ref, owner, manager, live)
    result = _result(obj.id, live, written.unwrap(), created=written.created)
    ctx.observer.object_done(owner, result)
    return result


def _result(oid: ObjectId, live: Mapping[str, Any] | None, answer: Mapping[str, Any], *, created: bool) -> ObjectResult:
    if live is None or created:
        return ObjectResult(oid, ObjectAction.CREATED)
    before = str((live.get("metadata") or {}).get("resourceVersion") or "")
    after = str((answer.get("metadata") or {}).get("resourceVersion") or "")
    return ObjectResult(oid, ObjectAction.CONFIGURED if before != after else ObjectAction.UNCHANGED)


def _immutable(written: Written, owner: ObjectId) -> ClusterError:
    assert written.failure is not None
    fields = ", ".join(written.failure.immutable_fields()) or "a field"
    return ClusterError(
        f"{fields} cannot change (immutable)",
        subject=written.ref.object_id,
        detail=written.failure.message,
        hint=f"set spec.force: true on {owner} or annotate the object kustomize.toolkit.fluxcd.io/force: enabled "
        "to let apply delete and recreate it",
    )


def _recreate(
    ctx: RunContext,
    obj: DesiredObject,
    ref: ObjectRef,
    owner: ObjectId,
    manager: str,
    live: Mapping[str, Any] | None,
) -> ObjectResult:
    """Flux's force: delete (background propagation), wait until gone, apply again."""
    ctx.check()
    uid = str(((live or {}).get("metadata") or {}).get("uid") or "")
    record_pre_image(ctx, owner, ref, "recreate", live, obj.sensitive_paths)
    deleted = delete(ctx.cluster, ref, propagation=Propagation.BACKGROUND, uid=uid)
    if not deleted.ok and not deleted.gone:
        raise deleted.error()

    def gone(current: dict[str, Any] | None) -> bool:
        return current is None or str((current.get("metadata") or {}).get("uid") or "") != uid

    ctx.observer.waiting(owner, f"{ref} to be deleted before it is recreated", 0.0)
    wait_for(ctx.cluster, ref, gone, timeout=ctx.options.stage_timeout, what="deletion before recreating it")
    written = apply(ctx.cluster, ref.mapping, obj.body, field_manager=manager, force=True)
    written.unwrap()
    result = ObjectResult(obj.id, ObjectAction.RECREATED, "an immutable field changed")
    ctx.observer.object_done(owner, result)
    return result
