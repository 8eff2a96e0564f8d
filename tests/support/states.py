"""States built in code: realistic ones for the state tests and bench/bench_state.py, small
records for the planner tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fluxform.objects import ObjectId
from fluxform.state.model import (
    OwnerState,
    StateFile,
    StateObject,
    canonical_digest,
    new_state,
    next_revision,
)
from tests.support.ids import ks


def deployment(namespace: str, name: str, image_tag: str) -> dict[str, Any]:
    """A Deployment of the size real ones have (~1.5 KB of JSON)."""
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace}
    container = {
        "name": name,
        "image": f"ghcr.io/example/{name}:{image_tag}",
        "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
        "env": [{"name": f"SETTING_{i}", "value": f"value-{i}"} for i in range(8)],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "50m", "memory": "64Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels, "kustomize.toolkit.fluxcd.io/name": "apps"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def masked_secret(namespace: str, name: str, fingerprint: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"password": f"***({fingerprint})"},
    }


def state_object(manifest: dict[str, Any]) -> StateObject:
    oid = ObjectId.from_manifest(manifest)
    return StateObject(oid, str(manifest["apiVersion"]), canonical_digest(manifest), manifest)


def owner(name: str, objects: list[StateObject], revision: str = "main@sha1:abc", *, prune: bool = True) -> OwnerState:
    """What the last apply of Kustomization flux-system/`name` recorded."""
    return OwnerState(
        id=ks(name),
        prune=prune,
        source_revision=revision,
        applied_at="2025-01-01T00:00:00Z",
        applied_by="tester@host",
        objects=tuple(objects),
        source_digest="sha256:" + "0" * 64,
        field_manager="kustomize-controller",
    )


def small_state(cluster: str = "test") -> StateFile:
    """One owner, a Deployment and a masked Secret, written once (serial 1 once stored)."""
    objects = [
        state_object(deployment("apps", "web", "1.0.0")),
        state_object(masked_secret("apps", "web-creds", "aa11")),
    ]
    apps = owner("apps", objects)
    return next_revision(new_state(cluster), {apps.id: apps}, operation="apply", by="tester@host")


def fleet_owners(
    n_objects: int,
    per_owner: int,
    tag: str,
    changed_owners: int | None = None,
    base: dict[ObjectId, OwnerState] | None = None,
) -> dict[ObjectId, OwnerState]:
    """`n_objects` Deployments in owners of `per_owner`; with `base`, only the first
    `changed_owners` owners get new objects (an apply touches few owners)."""
    owners: dict[ObjectId, OwnerState] = {}
    for index, start in enumerate(range(0, n_objects, per_owner)):
        name = f"team-{index:03d}"
        if base is not None and changed_owners is not None and index >= changed_owners:
            kept = base[ks(name)]
            owners[kept.id] = kept
            continue
        objs = [state_object(deployment(name, f"svc-{i:05d}", tag)) for i in range(start, start + per_owner)]
        new = owner(name, objs, revision=f"main@sha1:{tag}")
        owners[new.id] = new
    return owners


def fleet_state(n_objects: int = 5000, revisions: int = 10, per_owner: int = 50, changed_owners: int = 10) -> StateFile:
    """A fleet state after `revisions` applies, each changing `changed_owners` owners."""
    state = new_state("bench")
    owners = fleet_owners(n_objects, per_owner, "r0")
    state = next_revision(state, owners, operation="apply", by="bench")
    for rev in range(1, revisions + 1):
        state = replace(state, serial=state.serial + 1)
        owners = fleet_owners(n_objects, per_owner, f"r{rev}", changed_owners, base=owners)
        state = next_revision(state, owners, operation="apply", by="bench")
    return state
