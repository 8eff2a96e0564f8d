"""Reads: get, list (selectors, limit/continue), and the Table form kubectl asks for.

Every read first lets the simulated controllers catch up (simulation.settle_pending),
which is how a Deployment becomes available "on the next read".

    body = list_objects(state, rtype, "default", {"labelSelector": "app=web"})
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .catalog import ResourceType
from .errors import bad_request, not_found
from .selectors import matches_fields, matches_labels, parse_field_selector, parse_label_selector
from .simulation import settle_pending
from .state import State

__all__ = ["as_table", "get_object", "list_objects", "select"]


def select(state: State, rtype: ResourceType, namespace: str | None, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Stored objects of a type in a namespace (None: all) matching the request's selectors."""
    labels = parse_label_selector(params.get("labelSelector", ""))
    fields = parse_field_selector(params.get("fieldSelector", ""), rtype.kind)
    scope = namespace if rtype.namespaced else None
    settle_pending(state)
    return [
        obj
        for obj in state.store.items(rtype.group, rtype.plural, scope)
        if matches_labels(labels, obj["metadata"].get("labels")) and matches_fields(fields, obj)
    ]


def get_object(state: State, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
    settle_pending(state)
    obj = state.store.get(state.key(rtype, namespace, name))
    if obj is None:
        raise not_found(rtype.plural, rtype.group, name)
    return state.present(rtype, obj)


def _decode_continue(token: str) -> list[str]:
    try:
        start = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {token}") from exc
    return [str(part) for part in start]


def _encode_continue(obj: dict[str, Any]) -> str:
    start = [obj["metadata"].get("namespace", ""), obj["metadata"]["name"]]
    return base64.urlsafe_b64encode(json.dumps({"start": start}).encode()).decode()


def list_objects(state: State, rtype: ResourceType, namespace: str | None, params: Mapping[str, str]) -> dict[str, Any]:
    items = select(state, rtype, namespace, params)
    if params.get("continue"):
        after = _decode_continue(params["continue"])
        items = [o for o in items if [o["metadata"].get("namespace", ""), o["metadata"]["name"]] > after]
    metadata: dict[str, Any] = {"resourceVersion": str(state.store.resource_version)}
    limit = int(params.get("limit") or 0)
    if 0 < limit < len(items):
        metadata["continue"] = _encode_continue(items[limit - 1])
        metadata["remainingItemCount"] = len(items) - limit
        items = items[:limit]
    served = [state.present(rtype, obj) for obj in items]
    if not rtype.custom:  # typed lists carry no TypeMeta per item
        for obj in served:
            obj.pop("apiVersion"), obj.pop("kind")
    return {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata, "items": served}


def _age(timestamp: str) -> str:
    try:
        created = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = max(0, int((datetime.now(UTC) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_COLUMNS = [
    {"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0},
    {"name": "Age", "type": "string", "format": "", "description": "Time since creation", "priority": 0},
]


def as_table(objects: list[dict[str, Any]], list_metadata: dict[str, Any]) -> dict[str, Any]:
    """meta.k8s.io/v1 Table with Name and Age columns, as kubectl's default printer wants."""
    rows = [
        {
            "cells": [obj["metadata"]["name"], _age(obj["metadata"].get("creationTimestamp", ""))],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]},
        }
        for obj in objects
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": _COLUMNS,
        "rows": rows,
    }
