"""Put back what a failed apply wrote, newest write first (issue 19, item 2).

The executor keeps, in memory only, every object's pre-image read just before its write
(apply/preimages.py) and every Helm release's revision before Helm acted. Rolling back walks
those writes backwards, one object at a time, each to the state it had before *this* apply
(its first pre-image, whatever the apply wrote to it after):

- an object the apply created is deleted;
- an object it changed (or recreated) is written back whole (PUT of the pre-image, or delete
  and create when an immutable field stands in the way), Secrets included, from memory;
- an object it pruned is created again from its pre-image;
- a Helm release is rolled back to its revision before (uninstalled when the apply installed it).

Each step re-reads the object first, so a step whose write landed but whose answer was lost
is recognised as done, and an object already as it was is left alone. A step that fails is
reported with its reason and the walk goes on: the caller's state keeps such objects listed.
Some things no rollback undoes (a pruned PersistentVolumeClaim's data, a pruned Namespace's
contents, a Job that ran): they are listed beside the steps (planner/reversible.py).

    report = roll_back(cluster, preimages.items(), releases, timeout=300.0)
    report.summary_line()    # "Rollback complete: 2 restored, 1 deleted, 1 recreated."
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from typing import Any

from fluxform.apply.preimages import Touched, TouchedRelease, Write
from fluxform.apply.releases import ReleaseApplier
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.errors import Refusal
from fluxform.cluster.lookup import get_object
from fluxform.cluster.ref import ObjectRef
from fluxform.cluster.write import Propagation, Written, create, delete, replace
from fluxform.errors import ClusterError, FluxformError
from fluxform.objects import ObjectId
from fluxform.planner.reversible import hooks_run, irreversible_write
from fluxform.state.model import ActionRecord, OwnerState

__all__ = ["RollbackReport", "RollbackStep", "restorable_content", "restored_owners", "roll_back", "step_records"]

_ATTEMPTS = 3  # per step, on top of the client's own repeats: each re-reads first
_GONE_WAIT = 30.0  # seconds an object deleted to be recreated may take to disappear
#: metadata the API server sets: never restored, never compared
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


@dataclass(frozen=True, slots=True)
class RollbackStep:
    """What the rollback did for one object or release (past tense), or why it could not."""

    owner: ObjectId
    id: ObjectId  # the object (a release: its HelmRelease)
    action: str  # deleted | restored | recreated | unchanged | a Helm sentence | not restored
    reason: str = ""  # why it was not restored
    irreversible: str = ""  # what stays undone even so (a pruned claim's data, a Job that ran)

    @property
    def ok(self) -> bool:
        return self.action != "not restored"

    def line(self) -> str:
        text = f"{self.id}: {self.action}"
        if self.reason:
            text += f": {self.reason}"
        if self.irreversible:
            text += f" (not reversible: {self.irreversible})"
        return text


@dataclass(frozen=True)
class RollbackReport:
    steps: tuple[RollbackStep, ...]
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return all(step.ok for step in self.steps)

    def not_restored(self) -> list[RollbackStep]:
        return [s for s in self.steps if not s.ok]

    def irreversible(self) -> list[RollbackStep]:
        return [s for s in self.steps if s.irreversible]

    def summary_line(self) -> str:
        counts = Counter("release" if s.id.kind == "HelmRelease" else s.action for s in self.steps if s.ok)
        parts = [f"{counts[a]} {a}" for a in ("restored", "deleted", "recreated", "unchanged") if counts[a]]
        if counts["release"]:
            parts.append(f"{counts['release']} Helm release(s) put back")
        missing = len(self.not_restored())
        if missing:
            parts.append(f"{missing} not restored")
        head = "Rollback complete" if self.complete else "Rollback incomplete"
        return f"{head}: {', '.join(parts) or 'nothing to undo'} [{self.seconds:.1f}s]."


def restorable_content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object without what the API server sets (status, uid, resourceVersion, generation,
    managedFields, timestamps): what a rollback restores and compares."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def roll_back(
    cluster: ClusterClient,
    writes: Sequence[Write],
    releases: ReleaseApplier | None,
    *,
    timeout: float,
) -> RollbackReport:
    """Undo `writes` (in the order they were sent) newest first, within `timeout` seconds;
    steps past the deadline are reported not restored."""
    started = time.monotonic()
    deadline = started + timeout
    steps: list[RollbackStep] = []
    for item in _undo_order(writes):
        if time.monotonic() > deadline:
            steps.append(_missed(item, f"--rollback-timeout of {timeout:g}s reached before this step"))
            continue
        steps.append(_undo(cluster, item, releases, deadline - time.monotonic()))
    return RollbackReport(tuple(steps), time.monotonic() - started)


def _undo_order(writes: Sequence[Write]) -> list[tuple[Touched, ...] | TouchedRelease]:
    """One entry per object (all its writes, oldest first) or release, newest last write first."""
    by_object: dict[str, list[Touched]] = {}
    last: dict[str, int] = {}
    releases: dict[str, TouchedRelease] = {}
    for index, write in enumerate(writes):
        if isinstance(write, TouchedRelease):
            key = f"release:{write.owner.inventory_id()}"
            releases.setdefault(key, write)  # the first: the revision before this apply
        else:
            key = write.ref.path
            by_object.setdefault(key, []).append(write)
        last[key] = index
    order = sorted(last, key=lambda k: last[k], reverse=True)
    return [releases[k] if k in releases else tuple(by_object[k]) for k in order]


def _missed(item: tuple[Touched, ...] | TouchedRelease, reason: str) -> RollbackStep:
    if isinstance(item, TouchedRelease):
        return RollbackStep(item.owner, item.owner, "not restored", reason)
    return RollbackStep(item[0].owner, item[0].id, "not restored", reason, _irreversible(item))


def _undo(
    cluster: ClusterClient,
    item: tuple[Touched, ...] | TouchedRelease,
    releases: ReleaseApplier | None,
    remaining: float,
) -> RollbackStep:
    if isinstance(item, TouchedRelease):
        return _undo_release(item, releases, remaining)
    first = item[0]
    irreversible = _irreversible(item)
    error: FluxformError | None = None
    for _ in range(_ATTEMPTS):
        try:
            action = _put_back(cluster, first.ref, first.pre_image)
        except FluxformError as exc:
            error = exc
            continue
        if action == "unchanged" and error is not None:  # the failed attempt's write had landed
            action = "deleted" if first.pre_image is None else "restored"
        return RollbackStep(first.owner, first.id, action, irreversible=irreversible)
    assert error is not None
    return RollbackStep(first.owner, first.id, "not restored", error.one_line(), irreversible)


def _undo_release(touched: TouchedRelease, releases: ReleaseApplier | None, remaining: float) -> RollbackStep:
    """Helm's wait is bounded by what is left of --rollback-timeout (at least a second, so a
    release is never left pending by a budget spent to nothing)."""
    hooks = hooks_run(touched.request.rendered.rendered)
    if releases is None:
        return RollbackStep(touched.owner, touched.owner, "not restored", "no Helm release applier in this run", hooks)
    try:
        done = releases.undo(touched, timeout=max(remaining, 1.0))
    except FluxformError as exc:
        return RollbackStep(touched.owner, touched.owner, "not restored", exc.one_line(), hooks)
    return RollbackStep(touched.owner, touched.owner, done or "unchanged", irreversible=hooks if done else "")


def _irreversible(item: tuple[Touched, ...]) -> str:
    for write in item:
        reason = irreversible_write(write.id, write.action)
        if reason:
            return reason
    return ""


def _put_back(cluster: ClusterClient, ref: ObjectRef, pre_image: Mapping[str, Any] | None) -> str:
    """One attempt: read the object, then delete, write back or create it as needed."""
    live = get_object(cluster, ref)
    if pre_image is None:
        if live is None:
            return "unchanged"  # the create never landed
        _done(delete(cluster, ref, propagation=Propagation.BACKGROUND))
        return "deleted"
    if live is None:
        return _recreate(cluster, ref, pre_image)
    if restorable_content(live) == restorable_content(pre_image):
        return "unchanged"
    if _uid(live) != _uid(pre_image):  # recreated by the apply (an immutable field changed)
        _delete_and_wait(cluster, ref, live)
        return _recreate(cluster, ref, pre_image)
    body = {**pre_image, "metadata": {**pre_image["metadata"], "resourceVersion": _version(live)}}
    written = replace(cluster, ref.mapping, body)
    if written.failure is not None and written.failure.refusal is Refusal.IMMUTABLE:
        _delete_and_wait(cluster, ref, live)
        return _recreate(cluster, ref, pre_image)
    _done(written)
    return "restored"


def _recreate(cluster: ClusterClient, ref: ObjectRef, pre_image: Mapping[str, Any]) -> str:
    meta = {k: v for k, v in (pre_image.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    _done(create(cluster, ref.mapping, {**pre_image, "metadata": meta}))
    return "recreated"


def _delete_and_wait(cluster: ClusterClient, ref: ObjectRef, live: Mapping[str, Any]) -> None:
    uid = _uid(live)
    _done(delete(cluster, ref, propagation=Propagation.BACKGROUND, uid=uid))
    deadline = time.monotonic() + _GONE_WAIT
    while True:
        current = get_object(cluster, ref)
        if current is None or _uid(current) != uid:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"{ref} was deleted to be recreated and is still there after {_GONE_WAIT:g}s")
        time.sleep(0.2)


def _done(written: Written) -> None:
    """A refusal raises (the caller's next attempt re-reads the object); a delete of an object
    already gone is done."""
    if written.ok or written.gone:
        return
    raise written.error()


def _uid(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def restored_owners(
    before: Mapping[ObjectId, OwnerState],
    failed: Mapping[ObjectId, OwnerState],
    report: RollbackReport,
) -> dict[ObjectId, OwnerState]:
    """The state's owners after a rollback: each as it was before the apply, plus every object
    the rollback could not put back, still listed as the failed apply recorded it (pending or
    applied), so the state keeps naming everything fluxform may have written."""
    owners = dict(before)
    for step in report.not_restored():
        record = failed.get(step.owner)
        if record is None:
            continue
        if step.id == step.owner:  # a Helm release left as the apply left it: its objects too
            owners[step.owner] = record
            continue
        kept = next((o for o in record.objects if o.id == step.id), None)
        base = owners.get(step.owner)
        if kept is None:
            continue
        if base is None:
            owners[step.owner] = dataclass_replace(record, objects=(kept,))
        elif all(o.id != step.id for o in base.objects):
            owners[step.owner] = dataclass_replace(base, objects=(*base.objects, kept))
    return owners


def step_records(report: RollbackReport, scrub: Callable[[str], str] = str) -> tuple[ActionRecord, ...]:
    """The rollback's steps as the state's history records them (ids and words only; the
    reasons scrubbed of the fleet's decrypted values)."""
    return tuple(ActionRecord(s.owner, s.id, s.action, scrub(s.reason or s.irreversible)) for s in report.steps)
