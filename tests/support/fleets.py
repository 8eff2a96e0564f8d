"""Small fleets written in code, shared by the unit tests of a behaviour and its end-to-end
test through the CLI.

root = write_tree(tmp_path / "repo", MISSING_INPUTS)
"""

from __future__ import annotations

from tests.support.trees import flux_kustomization, helm_release

__all__ = ["MISSING_INPUTS"]

_SUBSTITUTE_FROM_RUNTIME_SECRET = """\
  postBuild:
    substituteFrom:
      - kind: Secret
        name: tunnel-id
"""
_VALUES_FROM_THE_CLUSTER = "  valuesFrom:\n    - kind: ConfigMap\n      name: made-in-the-cluster\n"

#: clusters/dev: `team` reads a GitRepository the fleet does not define, `tunnel` substitutes
#: from a Secret made in the cluster, and `plain` holds a ConfigMap and HelmRelease `web`,
#: whose values come from a ConfigMap made in the cluster. Only `plain`'s ConfigMap can be
#: rendered from the repository alone (--missing-sources / --missing-objects).
MISSING_INPUTS = {
    "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
    "clusters/dev/tunnel.yaml": flux_kustomization("tunnel", "./apps/tunnel", _SUBSTITUTE_FROM_RUNTIME_SECRET),
    "clusters/dev/team.yaml": flux_kustomization("team", "./deploy", source="team-repo"),
    "clusters/dev/plain.yaml": flux_kustomization("plain", "./apps/plain"),
    "apps/tunnel/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tunnel\n  namespace: default\n"
    "data:\n  id: ${tunnel_id}\n",
    "apps/plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: default\n",
    "apps/plain/release.yaml": helm_release("web", "./charts/web", _VALUES_FROM_THE_CLUSTER),
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    "charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata: {}\n",
}
