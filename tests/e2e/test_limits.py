"""Bounded tools and inputs: an alias bomb, a huge file, a slow build, too many objects from
kustomize or from a chart each fail the plan quickly with one line naming the owner and the
limit (issue 15, item 4)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxform.limits import current_limits
from tests.support.cli import Result, run
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, write_tree

APPS = "Kustomization/flux-system/apps"


@pytest.fixture
def limits_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    current_limits.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    current_limits.cache_clear()


def _fleet(tmp_path: Path, apps: dict[str, str]) -> Path:
    files = {
        "clusters/dev/flux-system.yaml": FLUX_SYSTEM_SOURCE
        + "---\n"
        + flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
        **{f"apps/{name}": text for name, text in apps.items()},
    }
    return write_tree(tmp_path / "fleet", files) / "clusters" / "dev"


def _one_error(result: Result) -> str:
    assert result.code == 1, result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    assert "Traceback" not in result.err
    return lines[0]


def _configmaps(count: int) -> str:
    return "---\n".join(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: default\n" for i in range(count)
    )


def _alias_bomb(depth: int) -> str:
    lines = ["apiVersion: example.com/v1", "kind: Bomb", "metadata:", "  name: bomb", "  namespace: default", "spec:"]
    lines.append("  l0: &l0 [" + ",".join(['"lol"'] * 9) + "]")
    lines += [f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_in_a_file_kustomize_reads_is_refused_before_kustomize_runs(tmp_path: Path) -> None:
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [bomb.yaml]\n", "bomb.yaml": _alias_bomb(9)})
    started = time.monotonic()
    line = _one_error(run("plan", cluster))
    assert time.monotonic() - started < 20
    assert line.startswith(f"Error: {APPS} (clusters/dev/apps.yaml): not planned: apps/bomb.yaml:1: ")
    assert "expands to more than 5000000 nodes through aliases" in line


def test_tool_memory_limit_stops_kustomize_naming_the_owner(tmp_path: Path, limits_env: pytest.MonkeyPatch) -> None:
    limits_env.setenv("FLUXFORM_TOOL_MEMORY_MB", "60")  # below what kubectl needs to start
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _configmaps(1)})
    line = _one_error(run("plan", cluster))
    assert "kustomize build was stopped at its memory limit of 60 MiB" in line
    assert "FLUXFORM_TOOL_MEMORY_MB" in line


def test_file_over_the_size_limit_fails_at_once(tmp_path: Path) -> None:
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [big.yaml]\n", "big.yaml": ""})
    with (cluster.parents[1] / "apps" / "big.yaml").open("wb") as big:
        big.truncate(200 << 20)  # sparse: 200 MiB without writing them
    started = time.monotonic()
    line = _one_error(run("plan", cluster))
    assert time.monotonic() - started < 20
    assert line.startswith(f"Error: {APPS} (clusters/dev/apps.yaml): ")
    assert "big.yaml is 200 MiB, over the 64 MiB limit for a file fluxform reads" in line


def test_build_timeout_stops_a_slow_build(tmp_path: Path) -> None:
    """1,000 objects: about a second with either engine (in-process builds are ~2 ms each)."""
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _configmaps(1000)})
    line = _one_error(run("plan", cluster, "--no-cache", "--build-timeout", "0.01"))
    assert "was stopped at its time limit of 0.01 s" in line
    assert "--build-timeout SECONDS raises it" in line
    assert run("plan", cluster, "--build-timeout", "abc").code == 1  # a usage error


def test_kustomize_rendering_too_many_objects(tmp_path: Path, limits_env: pytest.MonkeyPatch) -> None:
    limits_env.setenv("FLUXFORM_MAX_OBJECTS", "5")
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _configmaps(10)})
    line = _one_error(run("plan", cluster))
    assert line.startswith(f"Error: {APPS} (clusters/dev/apps.yaml): not planned: kustomize build renders 10 objects")
    assert "over the limit of 5 per owner" in line


MANY = """\
{{- range $i := until (int .Values.count) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-{{ $i }}
{{- end }}
"""


def test_chart_rendering_too_many_objects(tmp_path: Path) -> None:
    release = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: many, namespace: default}
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/many
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  values:
    count: 200000
"""
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [release.yaml]\n", "release.yaml": release})
    write_tree(
        cluster.parents[1] / "charts" / "many",
        {"Chart.yaml": "apiVersion: v2\nname: many\nversion: 0.1.0\n", "templates/cm.yaml": MANY},
    )
    started = time.monotonic()
    line = _one_error(run("plan", cluster))
    assert time.monotonic() - started < 60
    assert line.startswith("Error: HelmRelease/default/many")
    assert "the chart renders about 20000" in line and "over the limit of 50000 objects per owner" in line


def test_limit_variables_must_be_positive_numbers(tmp_path: Path, limits_env: pytest.MonkeyPatch) -> None:
    limits_env.setenv("FLUXFORM_MAX_OBJECTS", "many")
    cluster = _fleet(tmp_path, {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _configmaps(1)})
    assert "FLUXFORM_MAX_OBJECTS='many' is not a whole number" in _one_error(run("plan", cluster))
    assert os.environ["FLUXFORM_MAX_OBJECTS"] == "many"
