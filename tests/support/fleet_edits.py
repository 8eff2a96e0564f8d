"""Edits of a generated fleet (bench/fleetgen.py) for the changed-only property tests: each
names a file and what to change in it, so random sequences of them make realistic histories
(an overlay value, a shared base, a cluster variable, a component, a chart template, a new
or removed Kustomization, a file nobody reads).

apply_edit(repo.path, "base-memory", 3)   # edits apps/app-001/base/deployment.yaml
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.fleetgen import app_name, cluster_name

__all__ = [
    "APPS",
    "CLUSTERS",
    "EDITS",
    "EXTRA_COMPONENT",
    "FILES",
    "SUBSTITUTIONS",
    "apply_edit",
    "write_extra_components",
]

CLUSTERS, APPS = 2, 2

#: name -> (file, regex, replacement); {app}, {cluster}, {other} (a second app), {n} vary per example.
SUBSTITUTIONS = {
    "base-memory": ("apps/{app}/base/deployment.yaml", r"memory: \d+Mi", "memory: 4{n}Mi"),
    "overlay-values": ("apps/{app}/overlays/{cluster}/values.yaml", r"replicaCount: \d+", "replicaCount: 1{n}"),
    "overlay-tag": ("apps/{app}/overlays/{cluster}/kustomization.yaml", r"newTag: \S+", "newTag: 9.{n}.0"),
    "cluster-var": ("clusters/{cluster}/vars/cluster-settings.yaml", r"region: \S+", "region: r{n}"),
    "rename-kustomization": (
        "clusters/{cluster}/apps/{other}.yaml",
        r"name: \S+\n  namespace",
        "name: x-{n}\n  namespace",
    ),
    "component": ("components/common/kustomization.yaml", r"managed: 'true'", "managed: 'v{n}'"),
    "chart-template": ("charts/fleet-app/templates/configmap.yaml", r"data:\n", "data:\n  rev: '{n}'\n"),
    # the overlay starts reading a directory no owner of its cluster read before
    "read-other-component": (
        "apps/{app}/overlays/{cluster}/kustomization.yaml",
        r"components:\n",
        "components:\n- ../../../../components/extra-{n}\n",
    ),
}
#: name -> (file written, content); an empty content deletes the file.
FILES = {
    "new-configmap": (
        "clusters/{cluster}/vars/extra-{n}.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-{n}\n  namespace: flux-system\ndata:\n  n: '{n}'\n",
    ),
    "remove-kustomization": ("clusters/{cluster}/apps/{other}.yaml", ""),
    "base-new-unlisted-file": ("apps/{app}/base/notes-{n}.txt", "not a resource\n"),
    "outside": ("README.md", "edit {n}\n"),
    "chart-template-in-new-dir": (  # Helm reads a chart whole, subdirectories of templates/ too
        "charts/fleet-app/templates/extra/cm-{n}.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ .Release.Name }}}}-extra-{n}\ndata:\n  n: '{n}'\n",
    ),
}
#: committed with the base, read by no owner until an edit names it (read-other-component)
EXTRA_COMPONENT = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n  extra: '{n}'\n"
EDITS = sorted([*SUBSTITUTIONS, *FILES])


def apply_edit(root: Path, name: str, n: int) -> None:
    fields = {"app": app_name(n % APPS), "other": app_name(n // 2 % APPS), "cluster": cluster_name(n // 4 % CLUSTERS)}
    fields["n"] = str(n)
    if name in SUBSTITUTIONS:
        rel, pattern, replacement = SUBSTITUTIONS[name]
        path = root / rel.format(**fields)
        if path.is_file():  # an earlier edit may have removed it
            path.write_text(re.sub(pattern, replacement.format(**fields), path.read_text(), count=1))
        return
    rel, content = FILES[name]
    path = root / rel.format(**fields)
    if content:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content.format(**fields))
    else:
        path.unlink(missing_ok=True)


def write_extra_components(root: Path, count: int = 8) -> None:
    """The components `read-other-component` edits start reading (committed with the base)."""
    for n in range(count):
        extra = root / f"components/extra-{n}/kustomization.yaml"
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_text(EXTRA_COMPONENT.format(n=n))
