"""What a live plan asks the cluster, counted in the emulator's request log (counts are
deterministic, unlike times): one LIST per type, paged, whatever the number of objects and
namespaces; never a GET per object; a server-side dry-run only for objects whose desired
and live forms differ."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.objects import ObjectId
from fluxform.planner.live.workflow import LiveOptions, plan_live
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Plan
from fluxform.state.model import OwnerState, StateFile, StateObject, canonical_digest, new_state, next_revision
from tests.e2e.live_cluster import ensure_namespace
from tests.kubeapi import KubeApi
from tests.support.desired import no_mask, owner
from tests.support.ids import ks

NAMESPACES, OWNERS, PER_OWNER, PAGE = 6, 4, 30, 10  # 120 objects, 5 types, 24 of each: paged
TYPES = {"configmaps": "ConfigMap", "secrets": "Secret", "services": "Service", "serviceaccounts": "ServiceAccount"}


def _body(kind: str, namespace: str, name: str, version: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": name, "rev": str(version)}}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": {"v": str(version)}}
    if kind == "Secret":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "type": "Opaque", "data": {"t": "c2VjcmV0"}}
    if kind == "Service":
        ports = [{"name": "http", "port": 80 + version, "protocol": "TCP"}]
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "spec": {"selector": {"app": name}, "ports": ports}}
    if kind == "ServiceAccount":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta}
    template = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "a", "image": f"nginx:1.{version}"}]},
    }
    spec = {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}


def _desired(changed: frozenset[int] = frozenset()) -> DesiredState:
    kinds = (*TYPES.values(), "Deployment")
    owners = []
    for o in range(OWNERS):
        bodies = []
        for i in range(PER_OWNER):
            n = o * PER_OWNER + i
            bodies.append(_body(kinds[n % len(kinds)], f"ns-{n % NAMESPACES}", f"obj-{n:03d}", int(n in changed)))
        owners.append(owner(ks(f"team-{o}"), *bodies))
    return DesiredState(tuple(owners), "sha256:requests")


def _state(desired: DesiredState) -> StateFile:
    """Every object of `desired` recorded as applied."""
    owners = {}
    for o in desired.owners:
        objects = tuple(
            StateObject(obj.id, obj.api_version, canonical_digest(dict(obj.body)), dict(obj.body)) for obj in o.objects
        )
        owners[o.id] = OwnerState(o.id, True, "sha256:requests", "2026-01-01T00:00:00Z", "test", objects)
    return next_revision(new_state("test"), owners, operation="apply", by="test")


@pytest.fixture
def cluster(kubeapi: KubeApi) -> Iterator[ClusterClient]:
    """The emulator holding every desired object, applied as fluxform applies them."""
    for n in range(NAMESPACES):
        ensure_namespace(kubeapi, f"ns-{n}")
    for o in _desired().owners:
        for obj in o.objects:
            kubeapi.server.apply(dict(obj.body), manager="fluxform", force=True)
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig, list_page_size=PAGE)) as client:
        yield client


def _plan(cluster: ClusterClient, kubeapi: KubeApi, desired: DesiredState) -> tuple[Plan, Counter[str]]:
    plan_live(desired, _state(_desired()), no_mask, cluster, target="t")  # first read: rollouts settle
    kubeapi.server.clear_requests()
    plan = plan_live(desired, _state(_desired()), no_mask, cluster, target="t", options=LiveOptions())
    return plan, Counter(r.verb or "discovery" for r in kubeapi.server.requests)


def _lists(kubeapi: KubeApi) -> Counter[str]:
    """LIST requests per resource (the pages of one LIST counted apart: `continue`)."""
    return Counter(r.path.rsplit("/", 1)[-1] for r in kubeapi.server.requests if r.verb == "list")


def test_an_unchanged_plan_lists_each_type_once_and_gets_nothing(cluster: ClusterClient, kubeapi: KubeApi) -> None:
    plan, verbs = _plan(cluster, kubeapi, _desired())

    assert plan.counts()["unchanged"] == OWNERS * PER_OWNER and not plan.has_changes()
    assert set(verbs) == {"discovery", "list"}  # no get, no patch (no dry-run), nothing else
    pages = _lists(kubeapi)
    assert set(pages) == {*TYPES, "deployments", "namespaces"}
    first_pages = [r for r in kubeapi.server.requests if r.verb == "list" and "continue" not in r.query]
    assert Counter(r.path.rsplit("/", 1)[-1] for r in first_pages) == Counter({t: 1 for t in pages})  # one LIST each
    assert all(pages[t] >= 3 for t in (*TYPES, "deployments"))  # 24 objects or more in pages of 10
    assert all(r.path.startswith(("/api/v1/", "/apis/apps/v1/")) and "/namespaces/" not in r.path
               for r in first_pages)  # fmt: skip  # cluster-wide: the objects sit in six namespaces


def test_only_objects_that_differ_are_dry_run(cluster: ClusterClient, kubeapi: KubeApi) -> None:
    changed = frozenset({0, 7, 33, 64, 101})  # one of each type
    plan, verbs = _plan(cluster, kubeapi, _desired(changed))

    assert verbs["patch"] == len(changed) and verbs["get"] == 0
    patched = {r.path.rsplit("/", 1)[-1] for r in kubeapi.server.requests if r.verb == "patch"}
    assert patched == {f"obj-{n:03d}" for n in changed}
    assert all(r.query.get("dryRun") == "All" for r in kubeapi.server.requests if r.verb == "patch")
    assert plan.counts()["change"] == len(changed)
    updated = {c.id for c in plan.changes if c.action == "update"}
    assert {oid.name for oid in updated} == {f"obj-{n:03d}" for n in changed}
    assert ObjectId("ns-0", "obj-000", "", "ConfigMap") in updated
