"""`artifact push --include-charts`: the charts a fleet's HelmReleases need travel beside it
as Helm OCI charts, the artifact records the mapping, and a fleet materialised from the
artifact renders every HelmRelease with no chart repository and an empty chart cache."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import helm_python
import pytest

from fluxform.helm.sdk import use_private_helm_home
from fluxform.planner.options import FleetOptions
from fluxform.planner.planfile import plan_file_from, plan_file_json
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.workflow import plan_fleet
from fluxform.sources.chart_cache import ChartCache
from fluxform.sources.oci.materialize import MaterializeOptions, materialize
from fluxform.sources.oci.store import RegistryAccess
from tests.support.charts_http import GREETING_TEMPLATE, ChartRepoServer, publish, publish_versions, write_chart
from tests.support.cli import run
from tests.support.registry import Registry, registry
from tests.support.trees import flux_kustomization, helm_release, helm_repository, write_tree

__all__ = ["registry"]


HELLO_RANGE = '      version: ">=1.0.0 <2.0.0"\n'


def _fleet(root: Path, repo_url: str) -> Path:
    """clusters/dev -> apps/: a HelmRepository and a HelmRelease taking a range from it."""
    release = (
        helm_repository("charts", "apps", repo_url)
        + "---\n"
        + helm_release("hello", "hello", namespace="apps", source="HelmRepository/apps/charts", chart_extra=HELLO_RANGE)
    )
    sync = flux_kustomization("flux-system", "./clusters/dev") + "---\n" + flux_kustomization("apps", "./apps")
    return write_tree(root, {"clusters/dev/sync.yaml": sync, "apps/release.yaml": release}) / "clusters" / "dev"


SOURCE = ("--source", "https://git.example.com/fleet.git", "--revision", "main@sha1:" + "b" * 40, "--reproducible")


def _plan(cluster: Path, cache: Path, helm: HelmOptions) -> dict[str, Any]:
    request = FleetOptions(cache_dir=cache.parent / "builds", use_cache=False).request()
    request = replace(request, discover=replace(request.discover, helm=helm_hook(helm)))
    data = json.loads(plan_file_json(plan_file_from(plan_fleet(cluster, request))))
    return {"changes": data["changes"], "owners": data["owners"]}


def test_charts_travel_with_the_fleet(registry: Registry, tmp_path: Path) -> None:
    cache = tmp_path / "charts"
    with ChartRepoServer(tmp_path / "repo") as server:
        versions = ["1.0.0", "1.3.0", "2.0.0"]
        publish_versions(server, tmp_path / "src", "hello", versions, templates={"cm.yaml": GREETING_TEMPLATE})
        cluster = _fleet(tmp_path / "fleet", server.url)
        assert run("charts", "pull", cluster, "--chart-cache", cache).code == 0
    root = tmp_path / "fleet"
    listed = run("artifact", "list-charts", cluster, "--chart-cache", cache)
    assert listed.code == 0, listed.err
    assert "hello  1.3.0" in listed.out and "charts/hello:1.3.0" in listed.out
    url = f"oci://{registry.host}/charts-e2e/fleet:v1"
    pushed = run("artifact", "push", root, url, "--plain-http", *SOURCE, "--include-charts", "--cluster", cluster,
                 "--chart-cache", cache)  # fmt: skip
    assert pushed.code == 0, pushed.err
    assert "1 charts" in pushed.err
    info = json.loads(run("artifact", "inspect", url, "--plain-http", "-o", "json").out)
    [entry] = info["charts"]
    assert entry["ref"] == "charts/hello:1.3.0" and entry["version"] == "1.3.0"
    assert entry["request"] == {"kind": "repository", "url": entry["request"]["url"], "chart": "hello",
                                "version": ">=1.0.0 <2.0.0"}  # fmt: skip
    # the mirror is a Helm OCI chart Helm itself can pull
    use_private_helm_home()
    chart_ref = f"oci://{registry.host}/charts-e2e/fleet/charts/hello"
    (tmp_path / "pulled").mkdir()
    helm_python.pull(chart_ref, version="1.3.0", plain_http=True, destination=tmp_path / "pulled")
    assert (tmp_path / "pulled" / "hello-1.3.0.tgz").is_file()
    # the chart server is gone and the plan uses an empty cache: charts come from the artifact
    expected = _plan(cluster, tmp_path / "c1", HelmOptions(offline=True, cache=ChartCache(cache)))
    with materialize(url, MaterializeOptions(RegistryAccess(plain_http=True))) as art:
        empty = ChartCache(tmp_path / "empty")
        from_artifact = _plan(
            art.root / "clusters" / "dev", tmp_path / "c2", HelmOptions(offline=True, cache=empty, fetcher=art.fetcher)
        )
    assert from_artifact == expected
    rendered = [c for c in expected["changes"] if c["owner"] == "HelmRelease/apps/hello"]
    assert [(c["kind"], c["name"]) for c in rendered] == [("ConfigMap", "hello-settings")]
    assert not (tmp_path / "empty").exists()  # nothing was fetched into a cache


def test_mirrored_chart_tags_are_immutable(registry: Registry, tmp_path: Path) -> None:
    caches = []
    for n, greeting in enumerate(("one", "two")):
        cache = tmp_path / f"charts{n}"
        with ChartRepoServer(tmp_path / f"repo{n}") as server:
            chart = write_chart(tmp_path / f"src{n}", "hello", "1.3.0", templates={"cm.yaml": GREETING_TEMPLATE},
                                values={"greeting": greeting})  # fmt: skip
            publish(chart, server)
            cluster = _fleet(tmp_path / f"fleet{n}", server.url)
            assert run("charts", "pull", cluster, "--chart-cache", cache).code == 0
        caches.append((cluster, cache))
    url = f"oci://{registry.host}/charts-immutable/fleet:v1"
    (cluster, cache), (other, other_cache) = caches
    first = run("artifact", "push", tmp_path / "fleet0", url, "--plain-http", *SOURCE, "--include-charts",
                "--cluster", cluster, "--chart-cache", cache)  # fmt: skip
    assert first.code == 0, first.err
    same = run("artifact", "push", tmp_path / "fleet0", url, "--plain-http", *SOURCE, "--include-charts",
               "--cluster", cluster, "--chart-cache", cache)  # fmt: skip
    assert same.code == 0 and same.out == first.out  # the same chart again is fine
    clash = run("artifact", "push", tmp_path / "fleet1", url, "--plain-http", *SOURCE, "--include-charts",
                "--cluster", other, "--chart-cache", other_cache)  # fmt: skip
    assert clash.code == 1
    assert "charts-immutable/fleet/charts/hello:1.3.0 already holds another chart" in clash.err
    assert len(clash.err.strip().splitlines()) == 1


def test_include_charts_needs_the_chart_cache(registry: Registry, tmp_path: Path) -> None:
    cluster = _fleet(tmp_path / "fleet", "http://127.0.0.1:9/charts")
    url = f"oci://{registry.host}/charts-missing/fleet:v1"
    flags = ("--plain-http", *SOURCE, "--include-charts", "--cluster", cluster, "--chart-cache", tmp_path / "none")
    result = run("artifact", "push", tmp_path / "fleet", url, *flags)
    assert result.code == 1
    assert "could not be pulled" in result.err and "fluxform charts pull" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.fixture(autouse=True)
def _helm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
