"""HelmReleases applied as Helm releases in tests: a chart with a CRD, a custom resource of it,
a Deployment and a ConfigMap in a fleet directory, HelmRelease manifests of it, and a bench
that renders them as the planner does and applies them with a real ReleaseApplier (real Helm
SDK in its worker) against the emulator.

    bench = ReleaseBench(kubeapi, tmp_path)
    outcome = bench.apply(values={"replicas": 2})
    bench.history()            # [(1, "superseded"), (2, "deployed")]
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import helm_python

from fluxform.cluster.client import ClusterClient, connect
from fluxform.cluster.options import ClusterOptions
from fluxform.helm import HelmContext
from fluxform.helm.journal import ReleaseJournal
from fluxform.helm.release import HeldLock, ReleaseApplier, ReleaseOutcome, release_ref
from fluxform.helm.render import RenderedRelease, render_spec
from fluxform.helm.sdk import use_private_helm_home
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.sources.chart_cache import ChartCache
from tests.kubeapi import HEALTH_ANNOTATION, KubeApi
from tests.support.charts_http import write_chart
from tests.support.trees import crd_text

__all__ = ["HEALTH_ANNOTATION", "NAMESPACE", "RELEASE", "ReleaseBench", "helm_release_doc", "write_shop_chart"]

RELEASE = "shop"
NAMESPACE = "team"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: {{ toJson .Values.podAnnotations }}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
"""
WIDGET = """\
{{- if .Values.widget }}
apiVersion: example.com/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}-widget
spec:
  size: {{ .Values.replicas }}
{{- end }}
"""
DEFAULT_VALUES = {"replicas": 1, "image": "nginx:1.25", "podAnnotations": {}, "greeting": "hello", "widget": True}


def write_shop_chart(fleet: Path, version: str = "0.1.0", *, crd_short_name: str = "") -> Path:
    """Chart `shop` at `<fleet>/charts/shop`: crds/ Widget, a Widget, a Deployment, a ConfigMap."""
    crd = crd_text()
    if crd_short_name:
        crd = crd.replace("listKind: WidgetList}", f"listKind: WidgetList, shortNames: [{crd_short_name}]}}")
    return write_chart(
        fleet / "charts",
        RELEASE,
        version,
        templates={"deployment.yaml": DEPLOYMENT, "configmap.yaml": CONFIGMAP, "widget.yaml": WIDGET},
        values=DEFAULT_VALUES,
        crds={"widgets.yaml": crd},
    )


def helm_release_doc(
    values: Mapping[str, Any] | None = None, *, namespace: str = NAMESPACE, **spec: Any
) -> dict[str, Any]:
    """HelmRelease <namespace>/shop (team/shop) of chart ./charts/shop in GitRepository
    flux-system/fleet; `spec` fields override (timeout defaults to 20s so failing waits end
    quickly)."""
    full: dict[str, Any] = {
        "interval": "10m",
        "timeout": "20s",
        "chart": {
            "spec": {
                "chart": "./charts/shop",
                "sourceRef": {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"},
            }
        },
        "values": dict(values or {}),
    }
    full.update(copy.deepcopy(spec))
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": RELEASE, "namespace": namespace},
        "spec": full,
    }


class ReleaseBench:
    """Render-then-apply of HelmRelease team/shop (or `<namespace>/shop`), as the apply
    executor does it."""

    def __init__(
        self,
        kubeapi: KubeApi,
        tmp_path: Path,
        *,
        field_manager: str = "helm-controller",
        journal: ReleaseJournal | None = None,
        lock: HeldLock | None = None,
        run_id: str = "run-1",
        namespace: str = NAMESPACE,
    ) -> None:
        self.kubeapi, self.namespace = kubeapi, namespace
        self.fleet = tmp_path / "fleet"
        if not (self.fleet / "charts" / RELEASE).is_dir():
            write_shop_chart(self.fleet)
        self.create_namespace(namespace)
        self.options = ClusterOptions(kubeconfig=kubeapi.kubeconfig)
        self.ctx = HelmContext(
            lambda kind, namespace, name: None,
            {("GitRepository", "flux-system", "fleet"): self.fleet},
            cache=ChartCache(tmp_path / "chart-cache"),
        )
        self.field_manager, self.journal, self.lock, self.run_id = field_manager, journal, lock, run_id

    def create_namespace(self, name: str) -> None:
        if self.kubeapi.server.get(("", "Namespace", "", name)) is None:
            self.kubeapi.server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def spec(self, values: Mapping[str, Any] | None = None, **spec: Any) -> HelmReleaseSpec:
        return HelmReleaseSpec.from_doc(helm_release_doc(values, namespace=self.namespace, **spec))

    def render(self, spec: HelmReleaseSpec) -> RenderedRelease:
        with self.cluster() as cluster:
            installed = ReleaseApplier(cluster, self.options, field_manager=self.field_manager, run_id="render")
            latest = installed.status(release_ref(spec))
        revision = latest.version + 1 if latest is not None and latest.status != "uninstalled" else None
        return render_spec(spec, self.ctx, is_install=revision is None, revision=revision)

    @contextmanager
    def cluster(self) -> Iterator[ClusterClient]:
        with connect(self.options) as cluster:
            yield cluster

    @contextmanager
    def applier(self) -> Iterator[ReleaseApplier]:
        with self.cluster() as cluster:
            yield ReleaseApplier(
                cluster,
                self.options,
                field_manager=self.field_manager,
                run_id=self.run_id,
                journal=self.journal,
                lock=self.lock,
            )

    def apply(self, values: Mapping[str, Any] | None = None, **spec: Any) -> ReleaseOutcome:
        hr = self.spec(values, **spec)
        rendered = self.render(hr)
        with self.applier() as applier:
            return applier.apply(rendered)

    def rollback(self, revision: int, **spec: Any) -> ReleaseOutcome:
        with self.applier() as applier:
            return applier.rollback(self.spec(**spec), revision)

    def uninstall(self, **spec: Any) -> ReleaseOutcome:
        with self.applier() as applier:
            return applier.uninstall(self.spec(**spec))

    @contextmanager
    def helm(self, namespace: str = NAMESPACE) -> Iterator[helm_python.Config]:
        """Helm's own client (the SDK in this process) on the release storage of `namespace`:
        what `helm history -n <namespace>` and helm-controller see."""
        use_private_helm_home()
        with helm_python.Config(
            kubeconfig_path=self.kubeapi.kubeconfig, kube_context="kubeapi", namespace=namespace
        ) as cfg:
            yield cfg

    def history(self, release: str = RELEASE, namespace: str = NAMESPACE) -> list[tuple[int, str]]:
        with self.helm(namespace) as helm:
            try:
                return [(int(e["revision"]), str(e["status"])) for e in helm.history(release)]
            except helm_python.HelmNotFoundError:
                return []

    def storage_secrets(self, namespace: str = NAMESPACE) -> list[str]:
        return sorted(
            str(s["metadata"]["name"])
            for s in self.kubeapi.server.objects(kind="Secret", namespace=namespace)
            if (s["metadata"].get("labels") or {}).get("owner") == "helm"
        )
