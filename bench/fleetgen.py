"""Synthetic Flux fleet generator for benchmarks and property tests.

Writes a repository of N clusters x M apps: every cluster gets one Flux Kustomization per
app (so N x M Flux Kustomizations) pointing at that app's overlay for the cluster. Each
overlay builds on the app's shared base (so one base change touches N overlays), adds a
shared kustomize Component, merges a configMapGenerator, patches replicas and pins an
image tag. Each base carries a HelmRelease of the vendored chart `charts/fleet-app`, with
values from a generated ConfigMap and postBuild variables from the cluster's
`cluster-settings` ConfigMap. The same arguments always write the same bytes.

    python bench/fleetgen.py OUT --clusters 10 --kustomizations 100 --seed 1
    layout = generate_fleet(Path("out"), FleetSpec(clusters=2, kustomizations=3))
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CHART_PATH", "FleetLayout", "FleetSpec", "app_name", "cluster_name", "generate_fleet", "main"]

CHART_PATH = "charts/fleet-app"


@dataclass(frozen=True)
class FleetSpec:
    clusters: int = 2  # clusters under clusters/
    kustomizations: int = 5  # apps per cluster = Flux Kustomizations per cluster (each with a HelmRelease)
    seed: int = 0  # every random choice (tags, replicas, dependsOn, patches) derives from it
    helm_releases: bool = True  # put a HelmRelease in every app base


@dataclass(frozen=True)
class FleetLayout:
    root: Path
    cluster_paths: tuple[str, ...]  # relative to root, e.g. "clusters/cluster-00"
    files: tuple[str, ...]  # every file written, relative to root, sorted

    @property
    def flux_kustomizations(self) -> int:
        return sum(1 for f in self.files if f.startswith("clusters/") and "/apps/" in f)


def cluster_name(index: int) -> str:
    return f"cluster-{index:02d}"


def app_name(index: int) -> str:
    return f"app-{index:03d}"


def _dump(*docs: Mapping[str, Any]) -> str:
    return yaml.safe_dump_all([dict(d) for d in docs], sort_keys=False, default_flow_style=False)


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[str] = []

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.files.append(rel)


# -- the vendored chart ----------------------------------------------------------------------

_CHART_FILES = {
    "Chart.yaml": """\
apiVersion: v2
name: fleet-app
description: Small chart vendored in the synthetic fleet.
type: application
version: 0.3.0
appVersion: "1.0.0"
""",
    "values.yaml": """\
replicaCount: 1
image:
  repository: ghcr.io/example/fleet-app
  tag: ""
message: hello
cluster: unknown
service:
  port: 8080
extraEnv: {}
""",
    "templates/_helpers.tpl": """\
{{- define "fleet-app.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "fleet-app.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
""",
    "templates/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "fleet-app.fullname" . }}
  labels:
    {{- include "fleet-app.labels" . | nindent 4 }}
data:
  message: {{ .Values.message | quote }}
  cluster: {{ .Values.cluster | quote }}
  {{- range $key, $value := .Values.extraEnv }}
  {{ $key }}: {{ $value | quote }}
  {{- end }}
""",
    "templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "fleet-app.fullname" . }}
  labels:
    {{- include "fleet-app.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "fleet-app.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "fleet-app.labels" . | nindent 8 }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          envFrom:
            - configMapRef:
                name: {{ include "fleet-app.fullname" . }}
          ports:
            - containerPort: {{ .Values.service.port }}
""",
    "templates/service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: {{ include "fleet-app.fullname" . }}
  labels:
    {{- include "fleet-app.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "fleet-app.labels" . | nindent 4 }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: {{ .Values.service.port }}
""",
}


def _write_chart(out: _Writer) -> None:
    for rel, text in _CHART_FILES.items():
        out.write(f"{CHART_PATH}/{rel}", text)


# -- shared component ------------------------------------------------------------------------


def _write_component(out: _Writer) -> None:
    out.write(
        "components/common/kustomization.yaml",
        _dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1alpha1",
                "kind": "Component",
                "labels": [{"pairs": {"fleet.example.com/managed": "true"}, "includeSelectors": False}],
                "commonAnnotations": {"fleet.example.com/cluster": "${cluster_name}"},
            }
        ),
    )


# -- app bases -------------------------------------------------------------------------------


def _write_base(out: _Writer, app: str, rng: random.Random, helm: bool) -> None:
    base = f"apps/{app}/base"
    resources = ["namespace.yaml", "deployment.yaml", "service.yaml"]
    out.write(f"{base}/namespace.yaml", _dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": app}}))
    labels = {"app.kubernetes.io/name": app}
    container = {
        "name": app,
        "image": f"ghcr.io/example/{app}:1.{rng.randint(0, 9)}.0",
        "envFrom": [{"configMapRef": {"name": f"{app}-config"}}],
        "resources": {"requests": {"cpu": f"{rng.choice([10, 25, 50])}m", "memory": "32Mi"}},
    }
    out.write(
        f"{base}/deployment.yaml",
        _dump(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                },
            }
        ),
    )
    out.write(
        f"{base}/service.yaml",
        _dump(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": app, "labels": labels},
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            }
        ),
    )
    out.write(
        f"{base}/config/app.properties",
        f"app.name={app}\napp.cluster=${{cluster_name}}\napp.level={rng.choice(['info', 'debug', 'warn'])}\n",
    )
    generators: list[dict[str, Any]] = [{"name": f"{app}-config", "files": ["config/app.properties"]}]
    document: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if helm:
        resources.append("release.yaml")
        _write_release(out, base, app, rng)
        generators.append({"name": f"{app}-values", "files": ["values.yaml=values.yaml"]})
        document["configurations"] = ["kustomizeconfig.yaml"]
    document["resources"] = resources
    document["configMapGenerator"] = generators
    out.write(f"{base}/kustomization.yaml", _dump(document))


def _write_release(out: _Writer, base: str, app: str, rng: random.Random) -> None:
    out.write(
        f"{base}/release.yaml",
        _dump(
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": f"{app}-web"},
                "spec": {
                    "interval": "10m",
                    "chart": {
                        "spec": {
                            "chart": f"./{CHART_PATH}",
                            "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
                        }
                    },
                    "valuesFrom": [{"kind": "ConfigMap", "name": f"{app}-values"}],
                    "values": {"cluster": "${cluster_name}", "message": f"hello from {app}"},
                },
            }
        ),
    )
    out.write(
        f"{base}/values.yaml",
        _dump({"replicaCount": rng.randint(1, 3), "service": {"port": rng.choice([8080, 9090])}}),
    )
    out.write(
        f"{base}/kustomizeconfig.yaml",
        _dump(
            {
                "nameReference": [
                    {
                        "kind": "ConfigMap",
                        "version": "v1",
                        "fieldSpecs": [{"path": "spec/valuesFrom/name", "kind": "HelmRelease"}],
                    }
                ]
            }
        ),
    )


# -- overlays (one per app and cluster) ------------------------------------------------------


def _write_overlay(out: _Writer, app: str, cluster: str, rng: random.Random, helm: bool) -> str:
    overlay = f"apps/{app}/overlays/{cluster}"
    document: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": app,
        "resources": ["../../base"],
        "components": ["../../../../components/common"],
        "images": [{"name": f"ghcr.io/example/{app}", "newTag": f"1.{rng.randint(0, 20)}.{rng.randint(0, 9)}"}],
        "configMapGenerator": [
            {"name": f"{app}-config", "behavior": "merge", "literals": [f"REGION={rng.choice(['eu', 'us', 'ap'])}"]}
        ],
    }
    if rng.random() < 0.5:
        document["replicas"] = [{"name": app, "count": rng.randint(1, 4)}]
    if rng.random() < 0.5:
        out.write(
            f"{overlay}/resources-patch.yaml",
            _dump(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": app},
                    "spec": {
                        "template": {"metadata": {"annotations": {"fleet.example.com/tier": "${tier:=standard}"}}}
                    },
                }
            ),
        )
        document["patches"] = [{"path": "resources-patch.yaml"}]
    if helm:
        out.write(f"{overlay}/values.yaml", _dump({"replicaCount": rng.randint(1, 5), "extraEnv": {"APP": app}}))
        document["configMapGenerator"].append(
            {"name": f"{app}-values", "behavior": "merge", "files": ["values.yaml=values.yaml"]}
        )
    out.write(f"{overlay}/kustomization.yaml", _dump(document))
    return overlay


# -- clusters --------------------------------------------------------------------------------


def _flux_kustomization(name: str, path: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": path,
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            **spec,
        },
    }


def _write_cluster(out: _Writer, index: int, spec: FleetSpec, rng: random.Random) -> str:
    cluster = cluster_name(index)
    base = f"clusters/{cluster}"
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system"},
        "spec": {"interval": "1m0s", "ref": {"branch": "main"}, "url": "https://example.com/fleet.git"},
    }
    out.write(f"{base}/flux-system/gotk-sync.yaml", _dump(source, _flux_kustomization("flux-system", f"./{base}", {})))
    out.write(
        f"{base}/flux-system/kustomization.yaml",
        _dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["gotk-sync.yaml"]}
        ),
    )
    settings = {"cluster_name": cluster, "region": rng.choice(["eu-west", "us-east", "ap-south"]), "tier": "gold"}
    out.write(
        f"{base}/vars/cluster-settings.yaml",
        _dump(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cluster-settings", "namespace": "flux-system"},
                "data": settings,
            }
        ),
    )
    for app_index in range(spec.kustomizations):
        app = app_name(app_index)
        overlay = _write_overlay(out, app, cluster, rng, spec.helm_releases)
        extra: dict[str, Any] = {
            "postBuild": {
                "substitute": {"app_name": app},
                "substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"}],
            }
        }
        if app_index > 0 and rng.random() < 0.3:
            extra["dependsOn"] = [{"name": app_name(rng.randrange(app_index))}]
        out.write(f"{base}/apps/{app}.yaml", _dump(_flux_kustomization(app, f"./{overlay}", extra)))
    return base


def generate_fleet(root: Path, spec: FleetSpec) -> FleetLayout:
    """Write the fleet under `root` (created if needed); returns what was written."""
    rng = random.Random(spec.seed)
    out = _Writer(root)
    _write_chart(out)
    _write_component(out)
    for app_index in range(spec.kustomizations):
        _write_base(out, app_name(app_index), rng, spec.helm_releases)
    clusters = tuple(_write_cluster(out, i, spec, rng) for i in range(spec.clusters))
    return FleetLayout(root=root, cluster_paths=clusters, files=tuple(sorted(out.files)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="directory to write the fleet into")
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--kustomizations", type=int, default=5, help="Flux Kustomizations (apps) per cluster")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-helm", action="store_true", help="leave HelmReleases out")
    args = parser.parse_args(argv)
    spec = FleetSpec(args.clusters, args.kustomizations, args.seed, helm_releases=not args.no_helm)
    layout = generate_fleet(args.out, spec)
    sys.stdout.write(
        f"wrote {len(layout.files)} files: {spec.clusters} clusters x {spec.kustomizations} Flux Kustomizations"
        f"{' with HelmReleases' if spec.helm_releases else ''} = {layout.flux_kustomizations} under {args.out}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
