"""Small file trees of Flux repositories for tests: `write_tree`, and the texts of the files
in them (Flux Kustomizations, HelmReleases, kustomization.yaml files, ConfigMaps, CRDs).

root = write_tree(tmp_path / "repo", {
    "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
    "apps/kustomization.yaml": kustomization_file("settings.yaml"),
    "apps/settings.yaml": configmap_text("settings", "apps", color="blue"),
})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Create `root` and each `relative path: text` under it (parents included); returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def flux_kustomization(name: str, path: str, extra: str = "", *, source: str = "flux-system") -> str:
    """A Flux Kustomization in flux-system reading `path` of a GitRepository; `extra`:
    more `spec` lines, indented by two spaces."""
    return f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  path: {path}
  prune: true
  sourceRef:
    kind: GitRepository
    name: {source}
{extra}"""


#: The GitRepository `flux bootstrap` writes beside the flux-system Kustomization.
FLUX_SYSTEM_SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: https://example.com/fleet.git
"""


def kustomization_file(*resources: str) -> str:
    """A kustomize `kustomization.yaml` listing `resources`."""
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + "".join(
        f"  - {r}\n" for r in resources
    )


def configmap_text(name: str, namespace: str, **data: str) -> str:
    """A ConfigMap holding `data` (each value a quoted string)."""
    lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n{lines}"


def helm_release(
    name: str,
    chart: str,
    extra: str = "",
    *,
    namespace: str = "flux-system",
    chart_extra: str = "",
    source: str = "GitRepository/flux-system/flux-system",
) -> str:
    """A HelmRelease of `chart` (a path in a GitRepository, a chart name in a HelmRepository)
    from `source` (kind/namespace/name); `extra`: more `spec` lines (indented by two spaces),
    `chart_extra`: more `spec.chart.spec` lines (by six)."""
    source_kind, source_namespace, source_name = source.split("/")
    return f"""\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: {namespace}
spec:
  interval: 10m
  chart:
    spec:
      chart: {chart}
      sourceRef:
        kind: {source_kind}
        name: {source_name}
        namespace: {source_namespace}
{chart_extra}{extra}"""


def helm_repository(name: str, namespace: str, url: str) -> str:
    """A HelmRepository (an HTTP chart index) at `url`."""
    return f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: {name}
  namespace: {namespace}
spec:
  interval: 1h
  url: {url}
"""


def crd_text(kind: str = "Widget", *, scope: str = "Namespaced", group: str = "example.com") -> str:
    """A CustomResourceDefinition of `kind`, served and stored as v1, any fields allowed."""
    plural, singular = f"{kind.lower()}s", kind.lower()
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  names: {{kind: {kind}, plural: {plural}, singular: {singular}, listKind: {kind}List}}
  scope: {scope}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def replace_in_file(path: Path, old: str, new: str, *, count: int | None = None) -> None:
    """Edit a fixture file in place: every `old` becomes `new`. `old` must occur (exactly
    `count` times when given), so an edit that no longer applies fails the test loudly."""
    text = path.read_text(encoding="utf-8")
    found = text.count(old)
    assert found if count is None else found == count, f"{old!r} occurs {found} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
