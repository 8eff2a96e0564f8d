"""Property: on generated fleets and random edits committed to a real git repository, the
changed-only diff (clusters skipped, only affected owners compared, a kept base index) is
exactly the full diff."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fleetgen import FleetLayout, FleetSpec, app_name, cluster_name, generate_fleet
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.chart_cache import ChartCache
from fluxform.views.revdiff import diff_to_dict
from tests.support.gitrepo import TestRepo

CLUSTERS, APPS = 2, 2
CACHE = Path(tempfile.mkdtemp(prefix="fluxform-property-cache-"))  # shared: builds repeat across examples

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


def _comparable(data: dict[str, Any]) -> list[Any]:
    """What a reviewer sees: per cluster its status, counts, every owner's changes and the
    warnings."""
    clusters = [(c["path"], c["status"], c["summary"], c["owners"], c["diagnostics"]) for c in data["clusters"]]
    return [*clusters, data["summary"]]


def _diff(repo: TestRepo, base: str, *, changed_only: bool, index_dir: Path) -> dict[str, Any]:
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(CACHE / "charts")))
    fleet = FleetRequest(DiscoverOptions(cache=BuildCache(CACHE / "builds"), jobs=2, helm=helm))
    request = DiffRequest((repo.path / "clusters",), base, fleet=fleet, changed_only=changed_only, index_dir=index_dir)
    return diff_to_dict(diff_revisions(request))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    edits=st.lists(st.tuples(st.sampled_from(EDITS), st.integers(0, 7)), min_size=1, max_size=3),
)
def test_changed_only_diff_equals_full_diff(seed: int, edits: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory(prefix="fluxform-property-") as tmp:
        repo = TestRepo.create(Path(tmp) / "repo")
        layout: FleetLayout = generate_fleet(repo.path, FleetSpec(clusters=CLUSTERS, kustomizations=APPS, seed=seed))
        assert layout.flux_kustomizations == CLUSTERS * APPS
        if seed % 2:  # an owner Flux leaves alone: both modes must show it the same way
            suspended = repo.path / f"clusters/{cluster_name(0)}/apps/{app_name(1)}.yaml"
            suspended.write_text(suspended.read_text().replace("spec:\n", "spec:\n  suspend: true\n", 1))
        for n in range(8):
            extra = repo.path / f"components/extra-{n}/kustomization.yaml"
            extra.parent.mkdir(parents=True)
            extra.write_text(EXTRA_COMPONENT.format(n=n))
        base = repo.commit("fleet")
        for name, n in edits:
            apply_edit(repo.path, name, n)
        repo.commit("edits")

        full = _diff(repo, base, changed_only=False, index_dir=Path(tmp) / "index")
        cold = _diff(repo, base, changed_only=True, index_dir=Path(tmp) / "index")
        warm = _diff(repo, base, changed_only=True, index_dir=Path(tmp) / "index")  # base index from the cold run

        assert _comparable(cold) == _comparable(full)
        assert _comparable(warm) == _comparable(full)
        for cluster in full["clusters"]:  # every unrendered cluster really had nothing to show
            skipped = next(c for c in warm["clusters"] if c["path"] == cluster["path"])
            assert skipped["rendered"] or cluster["status"] == "unchanged"
