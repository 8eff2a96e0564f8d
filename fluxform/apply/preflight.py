"""Before the first write, every object the apply will write is dry-run once more (server-side
apply, `dryRun=All`, the owner's field manager, force), in parallel: a refusal the plan could
not foresee (an admission webhook, RBAC, a quota, a field the server rejects) aborts the
apply with nothing written, naming each object refused.

Refusals the apply itself resolves are expected: a namespace this plan creates, an
immutable field on an owner that recreates (spec.force), a kind whose CRD this plan creates.

    preflight(cluster, mapper, works, created_namespaces)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from fluxform.apply.owner import OwnerWork
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.dryrun import dry_run_apply
from fluxform.cluster.errors import Refusal
from fluxform.cluster.mapping import KindMapping, RestMapper, Unmapped
from fluxform.errors import ClusterError
from fluxform.planner.live.policy import force_enabled
from fluxform.planner.model import DesiredObject

__all__ = ["namespaces_created", "preflight"]

_LISTED = 3


def preflight(
    cluster: ClusterClient,
    mapper: RestMapper,
    works: Iterable[OwnerWork],
    created_namespaces: frozenset[str],
) -> int:
    """Dry-run every write of `works` (HelmReleases excepted: Helm applies them); returns
    how many were dry-run. ClusterError naming the refused objects otherwise."""
    jobs: list[tuple[OwnerWork, DesiredObject, KindMapping]] = []
    problems: list[str] = []
    for work in works:
        if work.is_release:
            continue
        for change in work.writes():
            obj = work.objects[change.id]
            mapping = mapper.resolve(obj.api_version, obj.id.kind)
            if isinstance(mapping, Unmapped):
                problems.append(f"{obj.id}: {mapping.reason}")
            elif mapping.served:
                jobs.append((work, obj, mapping))
    with ThreadPoolExecutor(max_workers=max(1, cluster.options.concurrency)) as pool:
        answers = list(
            pool.map(lambda job: dry_run_apply(cluster, job[2], job[1].body, field_manager=job[0].manager), jobs)
        )
    for (work, obj, _), answer in zip(jobs, answers, strict=True):
        failure = answer.failure
        if failure is None:
            continue
        if failure.refusal is Refusal.NAMESPACE_MISSING and _namespace(obj) in created_namespaces:
            continue
        if failure.refusal is Refusal.IMMUTABLE:
            forced = (work.plan is not None and work.plan.spec.force) or force_enabled(obj.body, None)
            if forced:
                continue
            fields = ", ".join(failure.immutable_fields()) or "a field"
            problems.append(
                f"{obj.id}: {fields} cannot change (immutable) and {work.id} does not recreate it "
                "(set spec.force: true, or annotate it kustomize.toolkit.fluxcd.io/force: enabled)"
            )
            continue
        problems.append(f"{obj.id}: HTTP {failure.status} {failure.reason}: {failure.message}")
    if problems:
        shown = "; ".join(problems[:_LISTED]) + (
            f"; and {len(problems) - _LISTED} more" if len(problems) > _LISTED else ""
        )
        raise ClusterError(
            f"the pre-flight dry-run refused {len(problems)} object(s); nothing was written: {shown}",
            hint="fix the objects (or the permissions) and plan again",
        )
    return len(jobs)


def _namespace(obj: DesiredObject) -> str:
    meta: Mapping[str, object] = obj.body.get("metadata") or {}
    return str(meta.get("namespace") or "")


def namespaces_created(works: Iterable[OwnerWork]) -> frozenset[str]:
    """Namespaces the apply creates (their objects' dry-runs may say the namespace is missing)."""
    return frozenset(c.id.name for w in works for c in w.writes() if (c.id.group, c.id.kind) == ("", "Namespace"))
