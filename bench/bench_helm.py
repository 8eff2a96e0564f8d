"""Benchmark: render 50 HelmReleases and print where the time goes.

    .venv/bin/python bench/bench_helm.py [--releases 50] [--templates 20] [--post-renderers 5]

Each HelmRelease renders one chart (from a GitRepository directory, half of them from a
cached chart archive of an HTTP HelmRepository) with valuesFrom + inline values; a few use
a kustomize post-renderer. Printed: seconds per step (values merging, chart
resolution + loading, Helm rendering, parsing the output, post-rendering incl. labels) and
per release.
Never asserts on time.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fluxform import yamlio
from fluxform.helm import HelmContext, render_release
from fluxform.helm.sdk import package_chart, sdk_version, use_private_helm_home
from fluxform.sources.chart_cache import ChartCache

TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ .Release.Name }}}}-t{index}
  labels: {{{{- include "bench.labels" . | nindent 4 }}}}
spec:
  replicas: {{{{ .Values.replicaCount }}}}
  selector:
    matchLabels: {{app: t{index}}}
  template:
    metadata:
      labels: {{app: t{index}}}
    spec:
      containers:
        - name: c
          image: "{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}"
          env:
          {{{{- range $k, $v := .Values.env }}}}
            - name: {{{{ $k }}}}
              value: {{{{ $v | quote }}}}
          {{{{- end }}}}
"""
HELPERS = """\
{{- define "bench.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
"""


def write_chart(root: Path, templates: int) -> Path:
    chart = root / "charts" / "bench"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 1.0.0\n")
    values = {"replicaCount": 1, "image": {"repository": "ghcr.io/bench/app", "tag": "1.0"}, "env": {"A": "1"}}
    (chart / "values.yaml").write_text(yamlio.dump(values))
    (chart / "templates" / "_helpers.tpl").write_text(HELPERS)
    for index in range(templates):
        (chart / "templates" / f"t{index}.yaml").write_text(TEMPLATE.format(index=index))
    return chart


def release(index: int, *, from_repo: bool, post_render: bool) -> dict[str, Any]:
    if from_repo:
        chart = {"chart": "bench", "version": "1.x", "sourceRef": {"kind": "HelmRepository", "name": "bench"}}
    else:
        chart = {"chart": "./charts/bench", "sourceRef": {"kind": "GitRepository", "name": "fleet"}}
    spec: dict[str, Any] = {
        "interval": "10m",
        "chart": {"spec": {**chart, "sourceRef": {**chart["sourceRef"], "namespace": "flux-system"}}},
        "valuesFrom": [{"kind": "ConfigMap", "name": "shared-values"}],
        "values": {"replicaCount": 1 + index % 3, "env": {"INDEX": str(index)}},
    }
    if post_render:
        patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 9}\n"
        patch = patch.replace("name: x", f"name: r{index}-t0")
        spec["postRenderers"] = [{"kustomize": {"patches": [{"patch": patch}]}}]
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": f"r{index}", "namespace": "apps"},
        "spec": spec,
    }


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=50)
    parser.add_argument("--templates", type=int, default=20)
    parser.add_argument("--post-renderers", type=int, default=5, help="how many releases use a kustomize patch")
    args = parser.parse_args()

    use_private_helm_home()
    work = Path(tempfile.mkdtemp(prefix="fluxform-bench-helm-"))
    try:
        chart = write_chart(work / "fleet", args.templates)
        served = work / "served"
        served.mkdir()
        package_chart(chart, served)
        import helm_python

        server, url = serve(served)
        helm_python.repo_index_generate(served, base_url=url)
        docs: dict[tuple[str, str, str], Mapping[str, Any]] = {
            ("ConfigMap", "apps", "shared-values"): {
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared-values", "namespace": "apps"},
                "data": {"values.yaml": "image:\n  tag: '1.2'\nenv:\n  SHARED: 'yes'\n"},
            },
            ("HelmRepository", "flux-system", "bench"): {
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                "metadata": {"name": "bench", "namespace": "flux-system"}, "spec": {"url": url},
            },
        }  # fmt: skip
        ctx = HelmContext(
            lookup=lambda kind, ns, name: docs.get((kind, ns, name)),
            source_dirs={("GitRepository", "flux-system", "fleet"): work / "fleet"},
            cache=ChartCache(work / "cache"),
        )
        releases = [release(i, from_repo=i % 2 == 1, post_render=i < args.post_renderers) for i in range(args.releases)]
        render_release(releases[1], ctx)  # warm: SDK import, index fetch, chart download into the cache
        started = time.perf_counter()
        results = [render_release(doc, ctx) for doc in releases]
        wall = time.perf_counter() - started
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    steps = {
        "values merging": [r.timings.values for r in results],
        "chart resolve + load": [r.timings.chart for r in results],
        "helm render": [r.timings.render for r in results],
        "parse rendered YAML": [r.timings.parse for r in results],
        "post-render, labels, CRDs": [r.timings.post_render for r in results],
    }
    objects = sum(len(r.objects) for r in results)
    print(f"{sdk_version()}; {args.releases} HelmReleases x {args.templates} templates; {objects} objects")
    print(f"{'step':<24}{'total s':>10}{'mean ms':>10}{'max ms':>10}{'share':>8}")
    accounted = sum(sum(v) for v in steps.values())
    for name, values in steps.items():
        total = sum(values)
        print(
            f"{name:<24}{total:>10.3f}{statistics.mean(values) * 1000:>10.2f}"
            f"{max(values) * 1000:>10.2f}{total / accounted:>8.0%}"
        )
    print(f"{'wall clock':<24}{wall:>10.3f}{wall / args.releases * 1000:>10.2f}")
    with_pr = [r.timings.post_render for r in results[: args.post_renderers]]
    if with_pr:
        print(
            f"post-render with a kustomize patch: mean {statistics.mean(with_pr) * 1000:.1f} ms (kustomize subprocess)"
        )


if __name__ == "__main__":
    main()
