"""HelmReleases from a chart repository through the CLI: `charts pull` fills the cache, an
offline plan then renders from it, and without it fails naming the release."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fluxform import yamlio
from tests.e2e.cli import run
from tests.support.charts_http import ChartRepoServer, publish, write_chart
from tests.support.trees import write_tree

CM_TEMPLATE = textwrap.dedent(
    """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-settings
    data:
      greeting: {{ .Values.greeting | quote }}
      replicas: {{ .Values.replicas | quote }}
    """
)


def _fleet(root: Path, repo_url: str) -> Path:
    sync = textwrap.dedent(
        """\
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: flux-system, namespace: flux-system}
        spec:
          interval: 10m
          path: ./clusters/dev
          prune: true
          sourceRef: {kind: GitRepository, name: flux-system}
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: apps, namespace: flux-system}
        spec:
          interval: 10m
          path: ./apps
          prune: true
          sourceRef: {kind: GitRepository, name: flux-system}
        """
    )
    apps = textwrap.dedent(
        f"""\
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: HelmRepository
        metadata: {{name: charts, namespace: apps}}
        spec: {{interval: 1h, url: {repo_url}}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: hello-values, namespace: apps}}
        data:
          values.yaml: |
            greeting: from-configmap
          replicas: "3"
        ---
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: hello, namespace: apps}}
        spec:
          interval: 10m
          targetNamespace: web
          chart:
            spec:
              chart: hello
              version: ">=1.0.0 <2.0.0"
              sourceRef: {{kind: HelmRepository, name: charts}}
          valuesFrom:
            - {{kind: ConfigMap, name: hello-values}}
            - {{kind: ConfigMap, name: hello-values, valuesKey: replicas, targetPath: replicas}}
            - {{kind: ConfigMap, name: missing, optional: true}}
          values:
            greeting: inline-wins
        """
    )
    return write_tree(root, {"clusters/dev/sync.yaml": sync, "apps/release.yaml": apps}) / "clusters" / "dev"


def test_pull_then_plan_offline_renders_the_highest_matching_version(tmp_path: Path) -> None:
    cache = tmp_path / "charts"
    with ChartRepoServer(tmp_path / "repo") as server:
        for version in ("1.0.0", "1.3.0", "2.0.0"):
            publish(
                write_chart(tmp_path / "src" / version, "hello", version, templates={"cm.yaml": CM_TEMPLATE}), server
            )
        cluster = _fleet(tmp_path / "fleet", server.url)
        missing = run("plan", cluster, "--offline", "--chart-cache", cache)
        assert missing.code == 1
        assert missing.err.startswith("Error: HelmRelease/apps/hello")
        assert "fluxform charts pull" in missing.err
        pulled = run("charts", "pull", cluster, "--chart-cache", cache)
        assert pulled.code == 0, pulled.err
        assert "hello  1.3.0" in pulled.out
    # the server is gone: the plan must come from the cache alone
    result = run("plan", cluster, "--offline", "--chart-cache", cache, "--format", "json")
    assert result.code == 0, result.err
    data = yamlio.load(result.out)
    owner = next(o for o in data["owners"] if o["kind"] == "HelmRelease")
    assert owner["id"] == "HelmRelease/apps/hello" and owner["path"] == "hello@1.3.0"
    cm = next(c for c in data["changes"] if c["kind"] == "ConfigMap" and c["owner"] == "HelmRelease/apps/hello")
    assert cm["namespace"] == "web" and cm["name"] == "web-hello-settings"  # targetNamespace-prefixed release
    assert cm["after"]["data"] == {"greeting": "inline-wins", "replicas": "3"}
    assert cm["after"]["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "hello"
    table = run("get", "hr", cluster, "--offline", "--chart-cache", cache)
    assert "apps/hello" in table.out and "1.3.0" in table.out and "web/web-hello" in table.out


def test_unreachable_chart_can_be_skipped_and_the_plan_says_so(tmp_path: Path) -> None:
    cluster = _fleet(tmp_path / "fleet", "http://127.0.0.1:9/charts")  # nothing listens on port 9
    result = run("plan", cluster, "--chart-cache", tmp_path / "c", "--missing-charts", "warn", "--no-color")
    assert result.code == 0, result.err
    assert "HelmRelease/apps/hello" in result.out
    assert "not planned (apps/release.yaml): cannot fetch" in result.out
    assert result.out.endswith("Plan: 5 to add, 0 to change, 0 to destroy; 1 owner not planned.\n")
