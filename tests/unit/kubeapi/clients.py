"""The two independent clients the emulator is tested with: kubectl and the kubernetes package.

result = kubectl(kubeapi, "get", "ns", "-o", "json")
core = CoreV1Api(api_client(kubeapi))
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client, config, dynamic

from tests.kubeapi import KubeApi

KUBECTL = Path(sys.executable).parent / "kubectl"


def kubectl(api: KubeApi, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl against the emulator (private discovery cache per emulator)."""
    assert api.kubeconfig_path is not None
    cache = api.kubeconfig_path.parent / f"{api.kubeconfig_path.name}-kubectl-cache"
    argv = [str(KUBECTL), "--kubeconfig", str(api.kubeconfig_path), "--cache-dir", str(cache), *args]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def kubectl_json(api: KubeApi, *args: str) -> Any:
    return json.loads(kubectl(api, *args, "-o", "json").stdout)


def api_client(api: KubeApi) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(api.kubeconfig_path), context="kubeapi")


def dynamic_client(api: KubeApi) -> dynamic.DynamicClient:
    assert api.kubeconfig_path is not None
    cache = api.kubeconfig_path.parent / f"{api.kubeconfig_path.name}-discovery.json"
    return dynamic.DynamicClient(api_client(api), cache_file=str(cache))


def raw(
    api: KubeApi, method: str, path: str, body: Any = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    """One plain HTTP request with the kubeconfig's token; returns (status, decoded JSON)."""
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    headers = {"Authorization": f"Bearer {api.server.controls.token}", "Content-Type": content_type}
    request = urllib.request.Request(api.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def configmap(
    name: str, namespace: str = "default", labels: dict[str, str] | None = None, **data: str
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def deployment(
    name: str,
    namespace: str = "default",
    image: str = "nginx:1.25",
    replicas: int | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A minimal valid Deployment; `annotations` go on the pod template."""
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]},
        },
    }
    if annotations:
        spec["template"]["metadata"]["annotations"] = annotations
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
