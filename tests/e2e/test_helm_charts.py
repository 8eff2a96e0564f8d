"""HelmReleases from a chart repository through the CLI: `charts pull` fills the cache, an
offline plan then renders from it, and without it fails naming the release."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fluxform import yamlio
from tests.support.charts_http import ChartRepoServer, publish_versions
from tests.support.cli import run
from tests.support.trees import flux_kustomization, helm_release, helm_repository, write_tree

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


HELLO_RANGE = '      version: ">=1.0.0 <2.0.0"\n'


def _fleet(root: Path, repo_url: str) -> Path:
    sync = flux_kustomization("flux-system", "./clusters/dev") + "---\n" + flux_kustomization("apps", "./apps")
    values = textwrap.dedent(
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: hello-values, namespace: apps}
        data:
          values.yaml: |
            greeting: from-configmap
          replicas: "3"
        """
    )
    spec = (
        "  targetNamespace: web\n"
        "  valuesFrom:\n"
        "    - {kind: ConfigMap, name: hello-values}\n"
        "    - {kind: ConfigMap, name: hello-values, valuesKey: replicas, targetPath: replicas}\n"
        "    - {kind: ConfigMap, name: missing, optional: true}\n"
        "  values:\n"
        "    greeting: inline-wins\n"
    )
    release = helm_release(
        "hello", "hello", spec, namespace="apps", source="HelmRepository/apps/charts", chart_extra=HELLO_RANGE
    )
    apps = "---\n".join([helm_repository("charts", "apps", repo_url), values, release])
    return write_tree(root, {"clusters/dev/sync.yaml": sync, "apps/release.yaml": apps}) / "clusters" / "dev"


def test_pull_then_plan_offline_renders_the_highest_matching_version(tmp_path: Path) -> None:
    cache = tmp_path / "charts"
    with ChartRepoServer(tmp_path / "repo") as server:
        versions = ["1.0.0", "1.3.0", "2.0.0"]
        publish_versions(server, tmp_path / "src", "hello", versions, templates={"cm.yaml": CM_TEMPLATE})
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
    table = run("get", "hr", cluster, "--offline", "--chart-cache", cache, "-o", "wide")
    assert "apps/hello" in table.out and "1.3.0" in table.out and "web/web-hello" in table.out


def test_unreachable_chart_can_be_skipped_and_the_plan_says_so(tmp_path: Path) -> None:
    cluster = _fleet(tmp_path / "fleet", "http://127.0.0.1:9/charts")  # nothing listens on port 9
    result = run("plan", cluster, "--chart-cache", tmp_path / "c", "--missing-charts", "warn", "--no-color")
    assert result.code == 0, result.err
    assert "HelmRelease/apps/hello" in result.out
    assert "not planned (apps/release.yaml): cannot fetch" in result.out
    assert result.out.endswith("Plan: 5 to add, 0 to change, 0 to destroy; 1 owner not planned.\n")
