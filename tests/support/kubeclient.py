"""The two independent clients the emulator is tested with: kubectl and the kubernetes package.

result = kubectl(kubeapi, "get", "ns", "-o", "json")
core = CoreV1Api(api_client(kubeapi))
core.create_namespaced_config_map("default", v1_configmap("a", k="1"))
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

from tests.kubeapi import KubeApi

KUBECTL = Path(sys.executable).parent / "kubectl"
T = TypeVar("T")

# The kubernetes package's kubeconfig loader, dynamic client and watch are untyped; these casts
# state the signatures the tests rely on, once.
_new_client_from_config = cast(Callable[..., client.ApiClient], config.new_client_from_config)
_new_dynamic_client = cast(Callable[..., dynamic.DynamicClient], dynamic.DynamicClient)


class Watch(Protocol):
    """`kubernetes.watch.Watch`, typed as the tests use it."""

    def stream(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]: ...

    def stop(self) -> None: ...


class HasMetadata(Protocol):
    """Any typed model of a Kubernetes object (V1ConfigMap, V1Deployment, ...)."""

    @property
    def metadata(self) -> client.V1ObjectMeta | None: ...


def kubectl(api: KubeApi, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real kubectl against the emulator (private discovery cache per emulator)."""
    cache = api.kubeconfig.parent / f"{api.kubeconfig.name}-kubectl-cache"
    argv = [str(KUBECTL), "--kubeconfig", str(api.kubeconfig), "--cache-dir", str(cache), *args]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def kubectl_decode(path: Path) -> dict[str, Any]:
    """What kubectl (sigs.k8s.io/yaml) makes of the manifest at `path`, offline: the Go-side
    reference the YAML tests pin fluxform's reading against."""
    env = {**os.environ, "KUBECONFIG": str(path.parent / "no-kubeconfig")}
    argv = [str(KUBECTL), "label", "--local", "-f", str(path), "probe=x", "-o", "json"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, env=env)
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def kubectl_json(api: KubeApi, *args: str) -> Any:
    return json.loads(kubectl(api, *args, "-o", "json").stdout)


def api_client(api: KubeApi) -> client.ApiClient:
    return _new_client_from_config(config_file=str(api.kubeconfig), context="kubeapi")


def dynamic_client(api: KubeApi) -> dynamic.DynamicClient:
    cache = api.kubeconfig.parent / f"{api.kubeconfig.name}-discovery.json"
    return _new_dynamic_client(api_client(api), cache_file=str(cache))


def new_watch() -> Watch:
    return cast(Watch, cast(Callable[[], object], watch.Watch)())


def present(value: T | None) -> T:
    """`value`, asserted present: the typed models make every field optional, a served object has it."""
    assert value is not None
    return value


def meta(obj: HasMetadata | None) -> client.V1ObjectMeta:
    """The metadata of a typed object the server answered with."""
    return present(present(obj).metadata)


def error_status(error: ApiException) -> dict[str, Any]:
    """The Status object an API error carries in its body."""
    assert error.body is not None, f"HTTP {error.status} without a body"
    body: dict[str, Any] = json.loads(error.body)
    return body


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


def request_ok(
    api: KubeApi,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    *,
    expect: Collection[int] = (200,),
) -> dict[str, Any]:
    """`raw`, asserted to answer one of `expect`; returns the object it answered with."""
    status, answer = raw(api, method, path, body, content_type)
    assert status in expect, answer
    assert isinstance(answer, dict), answer
    return answer


def configmap(
    name: str, namespace: str = "default", labels: dict[str, str] | None = None, **data: str
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def v1_configmap(
    name: str, namespace: str = "default", labels: dict[str, str] | None = None, **data: str
) -> client.V1ConfigMap:
    """`configmap(...)` as the typed client's model."""
    return client.V1ConfigMap.model_validate(configmap(name, namespace, labels, **data))


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


def v1_deployment(name: str, namespace: str = "default", replicas: int | None = None) -> client.V1Deployment:
    """`deployment(...)` as the typed client's model."""
    return client.V1Deployment.model_validate(deployment(name, namespace, replicas=replicas))
