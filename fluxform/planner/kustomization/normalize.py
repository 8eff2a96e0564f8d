"""Flux's object normalisation before apply (fluxcd/pkg ssa/normalize), minus the typed
round-trip noise that server-side apply ignores anyway (`resources: {}`, null timestamps).

What it changes, because it changes what reaches the API server:
* container ports (not initContainers) and Service ports get `protocol: TCP` when missing,
  for Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Service;
* a Secret's `stringData` is folded into base64 `data` and removed;
* `status` is dropped, except on CustomResourceDefinitions.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from fluxform import yamlio

__all__ = ["normalize_manifest"]

_POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("v1", "Pod"): ("spec",),
    ("apps/v1", "Deployment"): ("spec", "template", "spec"),
    ("apps/v1", "StatefulSet"): ("spec", "template", "spec"),
    ("apps/v1", "DaemonSet"): ("spec", "template", "spec"),
    ("apps/v1", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch/v1", "Job"): ("spec", "template", "spec"),
    ("batch/v1", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _default_protocol(ports: Any) -> None:
    if isinstance(ports, list):
        for port in ports:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def normalize_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = yamlio.clone(dict(manifest))
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    pod_path = _POD_SPEC_PATHS.get(key)
    if pod_path is not None:
        pod_spec = _dig(obj, pod_path)
        if isinstance(pod_spec, dict):
            for container in pod_spec.get("containers") or []:
                if isinstance(container, dict):
                    _default_protocol(container.get("ports"))
    elif key == ("v1", "Service"):
        _default_protocol(_dig(obj, ("spec", "ports")))
    elif key == ("v1", "Secret") and isinstance(obj.get("stringData"), dict):
        raw = obj.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for name, value in obj.pop("stringData").items():
            data[name] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        obj["data"] = data
    if obj.get("kind") != "CustomResourceDefinition":
        obj.pop("status", None)
    return obj
