"""Reading objects one at a time: get one by name, or list the few a label selector picks.

Plans read with one LIST per type (read.py); apply, waits and the state backend need single
objects and small selections, answered fresh. A missing object is `None`, not an error; any
other refusal is one ClusterError line naming the verb and the object.

    live = get_object(cluster, ObjectRef(secrets, "fluxform-state", "fluxform-state-prod"))
    parts = list_objects(cluster, secrets, "fluxform-state", label_selector="fluxform.dev/role=part")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fluxform.cluster.client import ClusterClient
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.ref import ObjectRef

__all__ = ["Listing", "get_object", "list_objects"]


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[dict[str, Any]] = field(default_factory=list)
    resource_version: str = ""  # of the list: a watch started from it misses nothing


def get_object(cluster: ClusterClient, ref: ObjectRef) -> dict[str, Any] | None:
    """The live object, or None when it (or its namespace) does not exist."""
    reply = cluster.request("GET", ref.path, what=f"get {ref}")
    if reply.status == 404:
        return None
    if not reply.ok:
        error = reply.failure().error("get", context=cluster.context)
        error.with_context(subject=ref.object_id)
        raise error
    obj: dict[str, Any] = reply.json()
    return obj


def list_objects(
    cluster: ClusterClient,
    mapping: KindMapping,
    namespace: str = "",
    *,
    label_selector: str = "",
    field_selector: str = "",
) -> Listing:
    """Every object of one type in `namespace` ("" = all, or cluster-scoped) matching the
    selectors, page by page; items carry apiVersion and kind."""
    path = mapping.collection_path(namespace)
    where = f"{mapping.resource} in namespace {namespace}" if namespace else mapping.resource
    base = [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]
    size = cluster.options.list_page_size
    items: list[dict[str, Any]] = []
    token, version = "", ""
    while True:
        query = [*base, *([("limit", str(size))] if size > 0 else []), *([("continue", token)] if token else [])]
        reply = cluster.request("GET", path, query=query, what=f"list {where}")
        if reply.status == 404:
            return Listing([], "")
        if not reply.ok:
            raise reply.failure().error(f"list {where}", context=cluster.context)
        doc: dict[str, Any] = reply.json()
        meta = doc.get("metadata") or {}
        for item in doc.get("items") or []:
            item.setdefault("apiVersion", mapping.api_version)  # typed lists omit TypeMeta per item
            item.setdefault("kind", mapping.kind)
            items.append(item)
        version = str(meta.get("resourceVersion") or version)
        token = str(meta.get("continue") or "")
        if not token:
            return Listing(items, version)
