"""What no rollback can undo, said before it happens (issue 19, item 2).

A rollback puts objects back from their pre-images, but some writes have effects beyond the
object: deleting a PersistentVolumeClaim releases (and usually deletes) its volume, so the
claim a rollback recreates is empty; deleting a Namespace or a CRD deletes everything in it;
a Job that was created or recreated has run. The plan marks those changes "not reversible"
and a rollback report lists them; apply and rollback read the same rule from here.

    irreversible_change(change.id, change.action)   # "" or why it cannot be undone
    irreversible_write(oid, "delete")               # the same rule for a write apply sent
    hooks_run(owner.rendered)                       # a HelmRelease's hooks that will run, or ""
"""

from __future__ import annotations

from fluxform.helm.render import HOOK_ANNOTATION, RenderedRelease
from fluxform.objects import ObjectId

__all__ = ["hooks_run", "irreversible_change", "irreversible_write"]

_DELETED = {
    ("", "PersistentVolumeClaim"): "deleting a PersistentVolumeClaim releases its volume; a rollback recreates "
    "an empty claim",
    ("", "Namespace"): "deleting a Namespace deletes everything in it; a rollback recreates only what fluxform "
    "recorded",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "deleting a CRD deletes every resource of its kinds; "
    "a rollback recreates only what fluxform recorded",
}
_RUNS = {("batch", "Job"): "a Job runs once created; a rollback cannot undo what it did"}


def irreversible_change(oid: ObjectId, action: str) -> str:
    """Why a planned change (`create`, `update`, `replace`, `delete`) cannot be undone, or ""."""
    key = (oid.group, oid.kind)
    if action == "delete":
        return _DELETED.get(key, "")
    if action in ("create", "replace"):
        return _RUNS.get(key, "")
    return ""


def irreversible_write(oid: ObjectId, action: str) -> str:
    """The same rule for a write an apply sent (`create`, `update`, `recreate`, `delete`)."""
    return irreversible_change(oid, {"recreate": "replace"}.get(action, action))


def hooks_run(rendered: RenderedRelease | None) -> str:
    """The Helm hooks an install or upgrade of this release runs (they are not part of the
    release: a Helm rollback runs the rollback hooks, it cannot undo what these did), or ""."""
    if rendered is None or not rendered.hooks_run or not rendered.hooks:
        return ""
    names = []
    for hook in rendered.hooks:
        meta = hook.get("metadata") or {}
        events = str((meta.get("annotations") or {}).get(HOOK_ANNOTATION, ""))
        names.append(f"{hook.get('kind', '?')}/{meta.get('name', '?')} ({events})")
    return f"its Helm hooks run: {', '.join(names)}; a rollback cannot undo what they did"
