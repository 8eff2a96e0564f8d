"""A small fleet for apply tests, written in code: `infra` (a Namespace, a CRD, a StorageClass)
and `apps` (dependsOn infra: a ConfigMap, a Secret, a Deployment, a Service and a custom
resource of infra's CRD), applied by a self-managing `flux-system` Kustomization. No Flux
CRDs are needed: without them the Flux objects are fluxform's own work, not applied.

cluster = write_apply_fleet(tmp_path / "repo")
result = apply_cli(kubeapi, cluster, state)          # fluxform apply ... --auto-approve
"""

from __future__ import annotations

from pathlib import Path

from tests.kubeapi import KubeApi
from tests.support.cli import Result, run
from tests.support.trees import FLUX_SYSTEM_SOURCE, crd_text, flux_kustomization, write_tree

__all__ = ["APPS", "INFRA", "apply_cli", "deployment_text", "plan_cli", "write_apply_fleet"]

INFRA = "Kustomization/flux-system/infra"
APPS = "Kustomization/flux-system/apps"


def deployment_text(name: str, namespace: str, *, selector: str = "web", health: str = "") -> str:
    """A Deployment; `health` sets the emulator's `kubeapi.fluxform.dev/health` on its pods."""
    annotations = f"      annotations:\n        kubeapi.fluxform.dev/health: {health}\n" if health else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {selector}
  template:
    metadata:
      labels:
        app: {selector}
{annotations}    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


def write_apply_fleet(root: Path, *, apps_spec: str = "", infra_spec: str = "") -> Path:
    """The fleet's files under `root`; returns its cluster directory. `apps_spec` and
    `infra_spec`: more `spec` lines of those Kustomizations (two-space indented)."""
    write_tree(
        root,
        {
            "clusters/dev/flux-system/gotk-sync.yaml": FLUX_SYSTEM_SOURCE
            + "---\n"
            + flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/infra.yaml": flux_kustomization("infra", "./infra", infra_spec),
            "clusters/dev/apps.yaml": flux_kustomization(
                "apps", "./apps", "  dependsOn:\n    - name: infra\n  timeout: 1m\n" + apps_spec
            ),
            "infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
            "infra/crd.yaml": crd_text("Widget"),
            "infra/storageclass.yaml": (
                "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: fast\n"
                "provisioner: example.com/fast\n"
            ),
            "apps/configmap.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\n"
                "data:\n  color: blue\n"
            ),
            "apps/secret.yaml": (
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: demo\n"
                "stringData:\n  token: s3cr3t-apply-value\n"
            ),
            "apps/deployment.yaml": deployment_text("web", "demo"),
            "apps/service.yaml": (
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: demo\n"
                "spec:\n  selector:\n    app: web\n  ports:\n    - port: 80\n"
            ),
            "apps/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: demo\n",
        },
    )
    return root / "clusters" / "dev"


def apply_cli(api: KubeApi, target: Path, state: Path, *args: str) -> Result:
    """`fluxform apply TARGET --auto-approve` against the emulator, state in `state`."""
    return run(
        "apply", target, "--kubeconfig", api.kubeconfig, "--state", state, "--init-state", "--auto-approve", *args
    )


def plan_cli(api: KubeApi, cluster: Path, state: Path, *args: str) -> Result:
    return run("plan", cluster, "--kubeconfig", api.kubeconfig, "--state", state, "--init-state", *args)
