"""`build ks NAME` of a suspended Kustomization builds it, as `flux build ks` does (suspension
stops the controller, not the build) and says it is suspended; `plan` still leaves it alone."""

from __future__ import annotations

from pathlib import Path

from fluxform import yamlio
from tests.support.cli import run
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization, write_tree


def test_a_suspended_kustomization_is_built_and_said_to_be_suspended(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/flux-system.yaml": FLUX_SYSTEM_SOURCE,
            "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps", "  suspend: true\n"),
            "apps/cm.yaml": configmap_text("paused", "default", key="value"),
        },
    )
    cluster, common = root / "clusters/dev", ("--repo-root", root, "--no-cache", "--offline")

    built = run("build", "ks", "apps", cluster, *common)
    listed = run("get", "ks", cluster, *common)
    planned = run("plan", cluster, *common, "-o", "json")

    assert built.code == 0, built.err
    assert [d["metadata"]["name"] for d in yamlio.load_all(built.out)] == ["paused"]
    assert "suspended (spec.suspend: true): Flux applies none of this until it is resumed" in built.err
    assert " suspended " in next(line for line in listed.out.splitlines() if line.startswith("flux-system/apps"))
    assert planned.code == 0, planned.err
    assert "ConfigMap/default/paused" not in planned.out  # Flux does nothing for it; neither does a plan
