"""Against a cluster, a HelmRelease whose release already exists renders as helm-controller
renders an upgrade: `.Release.IsUpgrade`, the next revision (read from Helm's storage Secrets)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.kubeapi import KubeApi
from tests.support.charts_http import write_chart
from tests.support.cli import run
from tests.support.trees import flux_kustomization, helm_release, write_tree

TEMPLATE = textwrap.dedent(
    """\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {{ .Release.Name }}-release
    data:
      revision: {{ .Release.Revision | quote }}
      upgrade: {{ .Release.IsUpgrade | quote }}
    """
)


def _fleet(root: Path) -> Path:
    write_chart(root / "charts", "demo", "1.0.0", templates={"cm.yaml": TEMPLATE})
    release = helm_release("demo", "./charts/demo", namespace="default")
    sync = flux_kustomization("flux-system", "./clusters/dev") + "---\n" + release
    return write_tree(root, {"clusters/dev/sync.yaml": sync}) / "clusters" / "dev"


def _release_data(kubeapi: KubeApi, cluster: Path) -> dict[str, str]:
    result = run("plan", cluster, "--kubeconfig", kubeapi.kubeconfig, "--format", "json")
    assert result.code == 0, result.err
    change = next(c for c in json.loads(result.out)["changes"] if c["name"] == "demo-release")
    return dict(change["after"]["data"])


def test_existing_release_renders_as_the_next_upgrade(kubeapi: KubeApi, tmp_path: Path) -> None:
    cluster = _fleet(tmp_path / "fleet")
    assert _release_data(kubeapi, cluster) == {"revision": "1", "upgrade": "false"}
    for version in (2, 3):
        kubeapi.server.create(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "helm.sh/release.v1",
                "metadata": {
                    "name": f"sh.helm.release.v1.demo.v{version}",
                    "namespace": "default",
                    "labels": {"owner": "helm", "name": "demo", "version": str(version), "status": "deployed"},
                },
                "data": {"release": "e30="},
            }
        )
    assert _release_data(kubeapi, cluster) == {"revision": "4", "upgrade": "true"}


def test_unreadable_release_secrets_plan_an_install_and_say_so(kubeapi: KubeApi, tmp_path: Path) -> None:
    cluster = _fleet(tmp_path / "fleet")
    kubeapi.server.forbid(verb="list", resource="secrets", namespace="default")
    result = run("plan", cluster, "--kubeconfig", kubeapi.kubeconfig, "--no-color")
    assert result.code == 0, result.err
    assert "cannot list Helm release Secrets in namespace default" in result.out
