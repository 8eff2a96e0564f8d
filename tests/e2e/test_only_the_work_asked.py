"""Only the work asked for (issue 21, lever 8): `build ks X` and `get ks` render no
HelmRelease, so they fetch no chart: with the chart repository unreachable and no chart
cache they still succeed at once; against a repository that records requests they make none
(a plan of the same fleet does ask it, so the recorder would have seen them)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.charts_http import ChartRepoServer
from tests.support.cli import run
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, helm_release, helm_repository, write_tree

SYNC = f"{FLUX_SYSTEM_SOURCE}---\n{flux_kustomization('flux-system', './clusters/dev')}"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  color: blue\n"


def _fleet(root: Path, chart_url: str) -> Path:
    files = {
        "clusters/dev/flux-system.yaml": FLUX_SYSTEM_SOURCE
        + "---\n"
        + flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
        "clusters/dev/charts.yaml": helm_repository("charts", "flux-system", chart_url),
        "clusters/dev/web.yaml": helm_release("web", "web", source="HelmRepository/flux-system/charts"),
        "apps/settings.yaml": CM,
    }
    return write_tree(root, files) / "clusters" / "dev"


def test_build_ks_and_get_ks_succeed_with_the_chart_repository_unreachable(tmp_path: Path) -> None:
    cluster = _fleet(tmp_path / "fleet", "http://127.0.0.1:1/charts")  # nothing listens on port 1
    empty_cache = ("--chart-cache", tmp_path / "no-charts")
    started = time.monotonic()
    built = run("build", "ks", "apps", cluster, *empty_cache)
    assert built.code == 0, built.err
    assert "name: settings" in built.out and built.err == ""
    listed = run("get", "ks", cluster, *empty_cache)
    assert listed.code == 0, listed.err
    assert "flux-system/apps" in listed.out and "not planned" not in listed.out
    assert time.monotonic() - started < 30
    assert not (tmp_path / "no-charts").exists()  # nothing was even looked up in the cache


def test_build_ks_and_get_ks_ask_no_chart_repository(tmp_path: Path) -> None:
    with ChartRepoServer(tmp_path / "repo") as server:
        cluster = _fleet(tmp_path / "fleet", server.url)
        cache = ("--chart-cache", tmp_path / "charts")
        assert run("build", "ks", "apps", cluster, *cache).code == 0
        assert run("get", "ks", cluster, *cache).code == 0
        assert server.requests == []
        planned = run("plan", cluster, *cache, "--partial")  # the repository is empty: web is not planned
        assert planned.code == 0, planned.err
        assert server.requests != []


def test_build_hr_fetches_only_the_chart_of_the_release_it_builds(tmp_path: Path) -> None:
    """The Helm hook renders only the releases discovery asks for (`build hr` names one; a
    changed-only diff leaves out those standing in), and only those fetch their charts."""
    with ChartRepoServer(tmp_path / "one") as asked, ChartRepoServer(tmp_path / "other") as other:
        files = {
            "clusters/dev/flux-system.yaml": SYNC,
            "clusters/dev/repos.yaml": helm_repository("one", "flux-system", asked.url)
            + "---\n"
            + helm_repository("other", "flux-system", other.url),
            "clusters/dev/web.yaml": helm_release("web", "web", source="HelmRepository/flux-system/one"),
            "clusters/dev/db.yaml": helm_release("db", "db", source="HelmRepository/flux-system/other"),
        }
        cluster = write_tree(tmp_path / "fleet", files) / "clusters" / "dev"
        built = run("build", "hr", "web", cluster, "--chart-cache", tmp_path / "charts")
        assert built.code == 1  # the repository is empty: the chart is not found
        assert "web" in built.err
        assert asked.requests != [] and other.requests == []
