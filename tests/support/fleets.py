"""Small fleets written in code, shared by the unit tests of a behaviour and its end-to-end
test through the CLI.

root = write_tree(tmp_path / "repo", MISSING_INPUTS)
"""

from __future__ import annotations

from tests.support.trees import flux_kustomization, helm_release

__all__ = ["MISSING_INPUTS", "SCHEMA_ERRORS", "STRICT_WIDGET_CRD"]

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


def _deployment(name: str, namespace: str, *, replicas: str = "1", container_extra: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: ghcr.io/example/{name}:1.0.0
{container_extra}"""


#: A CRD whose `spec` declares `size` (an integer) and nothing else.
STRICT_WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1}
"""

#: A chart whose crds/ holds a CRD `Gadget` (spec.mode: "fast" | "slow") and nothing else.
_GADGET_CRD = STRICT_WIDGET_CRD.replace("widgets", "gadgets").replace("Widget", "Gadget").replace("widget", "gadget")
_GADGET_CRD = _GADGET_CRD.replace("size: {type: integer, minimum: 1}", "mode: {type: string, enum: [fast, slow]}")

#: clusters/dev of a fleet where the API server would refuse three owners' objects:
#: `web` (apps/web/deployment.yaml: `replicas: two`), `workers` (apps/workers/deployment.yaml:
#: an unknown field in a container), `widgets` (apps/widgets/widget.yaml: a field the fleet's
#: Widget CRD does not declare) and `gadgets` (apps/gadgets/gadget.yaml: a value the chart
#: CRD's enum forbids). `after-web` depends on `web`; `fine` and `crds` are valid; `fine`
#: also holds a kind with no schema anywhere (two objects: one warning).
SCHEMA_ERRORS = {
    "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
    "clusters/dev/apps.yaml": "---\n".join(
        [
            flux_kustomization("web", "./apps/web"),
            flux_kustomization("workers", "./apps/workers"),
            flux_kustomization("crds", "./infra/crds"),
            flux_kustomization("widgets", "./apps/widgets", "  dependsOn:\n    - name: crds\n"),
            flux_kustomization("gadgets", "./apps/gadgets", "  dependsOn:\n    - name: crds\n"),
            flux_kustomization("after-web", "./apps/after-web", "  dependsOn:\n    - name: web\n"),
            flux_kustomization("fine", "./apps/fine"),
        ]
    ),
    "apps/web/deployment.yaml": _deployment("web", "default", replicas="two"),
    "apps/workers/deployment.yaml": _deployment(
        "workers", "default", container_extra="          imagePullPolice: Always\n"
    ),
    "infra/crds/widget-crd.yaml": STRICT_WIDGET_CRD,
    "infra/crds/operator.yaml": helm_release("gadget-operator", "./charts/gadget-operator"),
    "charts/gadget-operator/Chart.yaml": "apiVersion: v2\nname: gadget-operator\nversion: 1.0.0\n",
    "charts/gadget-operator/crds/gadgets.yaml": _GADGET_CRD,
    "charts/gadget-operator/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gadget-operator\n",
    "apps/widgets/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: big\n"
    "  namespace: default\nspec:\n  size: 3\n  colour: red\n",
    "apps/gadgets/gadget.yaml": "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n"
    "  namespace: default\nspec:\n  mode: turbo\n",
    "apps/after-web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-web\n  namespace: default\n",
    "apps/fine/deployment.yaml": _deployment("fine", "default", replicas="2"),
    "apps/fine/probes.yaml": "apiVersion: monitoring.example.io/v1\nkind: Probe\nmetadata:\n  name: a\n"
    "  namespace: default\n---\napiVersion: monitoring.example.io/v1\nkind: Probe\nmetadata:\n  name: b\n"
    "  namespace: default\n",
}
