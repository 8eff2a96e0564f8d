"""Read the live objects a plan needs: one LIST per type, never a GET per object.

A type whose wanted objects sit in a single namespace is listed in that namespace; one
spread over several is listed cluster-wide (Secrets too), falling back to per-namespace
lists when the cluster-wide list is forbidden (namespace-scoped RBAC). Lists are paged
and only the wanted objects of a page are kept, each passed through `keep` (the planner
masks Secret values there) as soon as the page is parsed, so a cluster-wide Secret list
holds one page of the cluster's Secrets at a time, never all of them. It leaves out Helm's
release storage (`type!=helm.sh/release.v1`, a server-side field selector): those are a
cluster's largest Secrets by far, and no fleet applies one.

    snapshot = read_live(cluster, {deployments: {"web": {"frontend"}}}, keep=mask)
    snapshot.get(ObjectId("web", "frontend", "apps", "Deployment"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.errors import ApiFailure
from fluxform.cluster.mapping import KindMapping
from fluxform.objects import ObjectId
from fluxform.progress import NO_PROGRESS, Progress, Stage, stage, timed

__all__ = ["ALL_NAMES", "LiveSnapshot", "Wanted", "read_live"]

#: Names wanted in one namespace ("" for cluster-scoped); ALL_NAMES keeps every object.
ALL_NAMES: frozenset[str] = frozenset({"*"})
Wanted = Mapping[KindMapping, Mapping[str, frozenset[str] | set[str]]]
Keep = Callable[[ObjectId, dict[str, Any]], dict[str, Any]]


@dataclass
class LiveSnapshot:
    objects: dict[ObjectId, dict[str, Any]] = field(default_factory=dict)
    #: (group, kind, namespace) that could not be read ("" namespace: the cluster-wide list)
    unreadable: dict[tuple[str, str, str], ApiFailure] = field(default_factory=dict)
    lists: int = 0  # LIST requests made (pages included)

    def get(self, oid: ObjectId) -> dict[str, Any] | None:
        return self.objects.get(oid)

    def readable(self, group: str, kind: str, namespace: str) -> bool:
        return (group, kind, namespace) not in self.unreadable


#: Helm's release storage, left out of cluster-wide Secret lists (see the module docstring)
_NOT_HELM_STORAGE = "type!=helm.sh/release.v1"


@dataclass(frozen=True, slots=True)
class _Job:
    mapping: KindMapping
    namespace: str  # "" = cluster-wide (or cluster-scoped)
    names: Mapping[str, frozenset[str] | set[str]]  # namespace -> names kept

    @property
    def field_selector(self) -> str:
        secrets = (self.mapping.group, self.mapping.kind) == ("", "Secret")
        return _NOT_HELM_STORAGE if secrets and not self.namespace else ""


def read_live(
    cluster: ClusterClient, wanted: Wanted, *, keep: Keep | None = None, progress: Progress = NO_PROGRESS
) -> LiveSnapshot:
    """Every wanted object the cluster holds; each LIST (type and namespace) is one item of
    `progress`'s READ stage."""
    snapshot = LiveSnapshot()
    jobs = [job for mapping, per_ns in sorted(wanted.items(), key=_order) for job in _jobs(mapping, per_ns)]

    def read(job: _Job) -> tuple[dict[ObjectId, dict[str, Any]], dict[tuple[str, str, str], ApiFailure], int]:
        where = f" in {job.namespace}" if job.namespace else ""
        with timed(progress, Stage.READ, f"{job.mapping.kind}{where}"):
            return _run(cluster, job, keep)

    with (
        stage(progress, Stage.READ, "Reading the cluster", total=len(jobs)),
        ThreadPoolExecutor(max_workers=max(1, cluster.options.concurrency)) as pool,
    ):
        for found, unreadable, lists in pool.map(read, jobs):
            snapshot.objects.update(found)
            snapshot.unreadable.update(unreadable)
            snapshot.lists += lists
    return snapshot


def _order(item: tuple[KindMapping, Any]) -> tuple[str, str]:
    return (item[0].group, item[0].kind)


def _jobs(mapping: KindMapping, per_ns: Mapping[str, frozenset[str] | set[str]]) -> list[_Job]:
    if not mapping.namespaced:
        return [_Job(mapping, "", per_ns)]
    if len(per_ns) == 1:
        return [_Job(mapping, ns, {ns: names}) for ns, names in sorted(per_ns.items())]
    return [_Job(mapping, "", per_ns)]


def _run(
    cluster: ClusterClient, job: _Job, keep: Keep | None
) -> tuple[dict[ObjectId, dict[str, Any]], dict[tuple[str, str, str], ApiFailure], int]:
    found: dict[ObjectId, dict[str, Any]] = {}
    lists = 0
    try:
        for page in _pages(cluster, job.mapping, job.namespace, job.field_selector):
            lists += 1
            found.update(_kept(job, page, keep))
    except _Forbidden as denied:
        lists += denied.lists
        if job.namespace or not job.mapping.namespaced:
            return found, {(job.mapping.group, job.mapping.kind, job.namespace): denied.failure}, lists
        # cluster-wide list refused: namespace-scoped RBAC may still allow each namespace
        unreadable: dict[tuple[str, str, str], ApiFailure] = {}
        for ns, names in sorted(job.names.items()):
            sub_found, sub_unreadable, sub_lists = _run(cluster, _Job(job.mapping, ns, {ns: names}), keep)
            found.update(sub_found)
            unreadable.update(sub_unreadable)
            lists += sub_lists
        return found, unreadable, lists
    return found, {}, lists


class _Forbidden(Exception):
    def __init__(self, failure: ApiFailure, lists: int) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.lists = lists


def _pages(
    cluster: ClusterClient, mapping: KindMapping, namespace: str, field_selector: str = ""
) -> Iterator[dict[str, Any]]:
    path = mapping.collection_path(namespace)
    token = ""
    size = cluster.options.list_page_size
    while True:
        query = [("fieldSelector", field_selector)] if field_selector else []
        query += [("limit", str(size))] if size > 0 else []
        if token:
            query.append(("continue", token))
        reply = cluster.request("GET", path, query=query)
        if reply.status == 403:
            raise _Forbidden(reply.failure(), 1)
        if reply.status == 404:  # the type or namespace went away since discovery
            return
        if not reply.ok:
            scope = f" in namespace {namespace}" if namespace else ""
            raise reply.failure().error(f"list {mapping.resource}{scope}", context=cluster.context)
        doc: dict[str, Any] = reply.json()
        yield doc
        token = str((doc.get("metadata") or {}).get("continue") or "")
        if not token:
            return


def _kept(job: _Job, page: Mapping[str, Any], keep: Keep | None) -> Iterator[tuple[ObjectId, dict[str, Any]]]:
    mapping = job.mapping
    for item in page.get("items") or []:
        meta = item.get("metadata") or {}
        namespace = str(meta.get("namespace") or "") if mapping.namespaced else ""
        names = job.names.get(namespace)
        name = str(meta.get("name") or "")
        if names is None or ("*" not in names and name not in names):
            continue
        item.setdefault("apiVersion", mapping.api_version)  # typed lists omit TypeMeta per item
        item.setdefault("kind", mapping.kind)
        oid = ObjectId(namespace, name, mapping.group, mapping.kind)
        yield oid, (keep(oid, item) if keep is not None else item)
