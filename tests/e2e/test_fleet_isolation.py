"""Through the CLI, on a generated fleet where a chart cannot be fetched, a Secret is made in
the cluster and one Kustomization applies to a spoke: `build` shows any owner that renders
(NAME or NAMESPACE/NAME, the synthetic root by its name), `get` lists every owner with its
status and reason, and `plan` is an error unless --partial, and never says "no changes"."""

from __future__ import annotations

from pathlib import Path

from fluxform import yamlio
from tests.support.cli import run
from tests.support.trees import flux_kustomization, write_tree

SPOKE = "  kubeConfig:\n    secretRef:\n      name: spoke-kubeconfig\n"
SUBSTITUTE_FROM_CLUSTER = (
    "  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: made-by-external-secrets\n"
)
REPOSITORY = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 1h
  url: http://127.0.0.1:9/charts
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: podinfo
      sourceRef:
        kind: HelmRepository
        name: charts
"""


def _cm(name: str, namespace: str = "default") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  k: v\n"


def _fleet(tmp_path: Path) -> Path:
    root = write_tree(
        tmp_path / "repo",
        {
            "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
            "clusters/dev/apps.yaml": flux_kustomization("apps", "./apps"),
            "clusters/dev/tunnel.yaml": flux_kustomization("tunnel", "./tunnel", SUBSTITUTE_FROM_CLUSTER),
            "clusters/dev/spoke.yaml": flux_kustomization("spoke", "./spoke", SPOKE),
            "apps/cm.yaml": _cm("healthy"),
            "apps/podinfo.yaml": REPOSITORY,
            "tunnel/cm.yaml": _cm("tunnel"),
            "spoke/cm.yaml": _cm("on-the-spoke"),
        },
    )
    return root


def _args(root: Path, tmp_path: Path) -> tuple[str | Path, ...]:
    return ("--repo-root", root, "--no-cache", "--offline", "--chart-cache", tmp_path / "charts")


def test_build_shows_an_owner_that_renders_whatever_else_fails(tmp_path: Path) -> None:
    root = _fleet(tmp_path)
    cluster, common = root / "clusters/dev", _args(root, tmp_path)

    apps = run("build", "ks", "apps", cluster, *common)
    qualified = run("build", "ks", "flux-system/apps", cluster, *common)
    spoke = run("build", "ks", "spoke", cluster, *common)
    release = run("build", "hr", "podinfo", cluster, *common)
    tunnel = run("build", "ks", "tunnel", cluster, *common)

    assert apps.code == 0 and apps.out == qualified.out, apps.err
    assert {d["metadata"]["name"] for d in yamlio.load_all(apps.out)} == {"healthy", "charts", "podinfo"}
    assert spoke.code == 0 and "on-the-spoke" in spoke.out  # shown, as Flux would build it
    assert (
        spoke.err
        == "fluxform: Kustomization/flux-system/spoke: applies to a remote cluster (spec.kubeConfig): not planned\n"
    )
    assert release.code == 1 and release.out == ""
    assert release.err.startswith("Error: HelmRelease/flux-system/podinfo (apps/podinfo.yaml): not planned: ")
    assert tunnel.code == 1 and "substitute from 'Secret/made-by-external-secrets'" in tunnel.err
    assert len(tunnel.err.splitlines()) == 1


def test_the_synthetic_root_is_built_by_the_name_get_shows(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", {"clusters/dev/cm.yaml": _cm("rooted")})
    common = ("--repo-root", root, "--no-cache")

    listed = run("get", "ks", root / "clusters/dev", *common)
    (row,) = listed.out.splitlines()[1:]
    built = run("build", "ks", row.split()[0], root / "clusters/dev", *common)

    assert row.split()[0] == "fluxform-root" and built.code == 0, built.err
    assert [d["metadata"]["name"] for d in yamlio.load_all(built.out)] == ["rooted"]


def test_get_lists_every_owner_with_its_status_and_reason(tmp_path: Path) -> None:
    root = _fleet(tmp_path)
    kss = run("get", "ks", root / "clusters/dev", *_args(root, tmp_path), "-o", "wide")
    hrs = run("get", "hr", root / "clusters/dev", *_args(root, tmp_path), "-o", "wide")

    assert kss.code == 0 and hrs.code == 0, kss.err + hrs.err
    rows = {line.split()[0]: line for line in kss.out.splitlines()[1:]}
    assert set(rows) == {"flux-system/flux-system", "flux-system/apps", "flux-system/tunnel", "flux-system/spoke"}
    assert " built " in rows["flux-system/apps"]
    assert " remote " in rows["flux-system/spoke"] and rows["flux-system/spoke"].split()[5] == "1"  # its object count
    assert " not planned " in rows["flux-system/tunnel"] and "(clusters/dev/tunnel.yaml)" in rows["flux-system/tunnel"]
    (release,) = hrs.out.splitlines()[1:]
    assert release.startswith("flux-system/podinfo") and " not planned " in release


def test_plan_is_an_error_unless_partial_and_then_never_exits_0(tmp_path: Path) -> None:
    root = _fleet(tmp_path)
    cluster, common = root / "clusters/dev", _args(root, tmp_path)

    refused = run("plan", cluster, *common)
    only_objects = run("plan", cluster, *common, "--missing-objects", "warn", "--missing-charts", "warn")
    partial = run("plan", cluster, *common, "--partial", "--detailed-exitcode", "--no-color")

    assert refused.code == 1 and refused.out == ""
    assert refused.err.splitlines() == [
        "Error: HelmRelease/flux-system/podinfo (apps/podinfo.yaml): not planned: chart repository index "
        "http://127.0.0.1:9/charts/index.yaml is not in the cache (offline) (hint: run `fluxform charts pull PATH` "
        "while online to fill the chart cache)",
        "Error: Kustomization/flux-system/spoke (clusters/dev/spoke.yaml): applies to a remote cluster "
        "(spec.kubeConfig): not planned",
        "Error: Kustomization/flux-system/tunnel (clusters/dev/tunnel.yaml): not planned: substitute from "
        "'Secret/made-by-external-secrets' error: not found in namespace flux-system (nothing in the fleet produces "
        "it) (hint: mark it optional: true, or add it to the fleet)",
        "Error: 3 owners not planned; fix these, or plan the rest with --partial (or --missing-charts warn, "
        "--missing-objects warn)",
    ]
    assert only_objects.code == 1 and "spoke" in only_objects.err and "tunnel" not in only_objects.err
    assert partial.code == 2, partial.err
    assert "Plan: 7 to add, 0 to change, 0 to destroy; 3 owners not planned." in partial.out
    assert "ConfigMap/default/on-the-spoke" not in partial.out and "ConfigMap/default/tunnel" not in partial.out


def test_root_ks_names_the_owner_of_a_start_path_outside_it(tmp_path: Path) -> None:
    owner = flux_kustomization("shop", "./deploy/prod/app", "  targetNamespace: shop\n")
    root = write_tree(
        tmp_path / "repo",
        {
            "deploy/prod/flux-kustomization.yaml": owner,
            "deploy/prod/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
        },
    )
    file = root / "deploy/prod/flux-kustomization.yaml"

    named = run("plan", root / "deploy/prod/app", "--root-ks", file, "--no-cache", "--no-color")
    by_file = run("plan", file, "--no-cache", "--no-color")
    built = run("build", "ks", "flux-system/shop", file, "--no-cache")

    assert named.code == 0 and by_file.code == 0, named.err + by_file.err
    assert "Kustomization/flux-system/shop  (GitRepository/flux-system/flux-system, ./deploy/prod/app)" in named.out
    assert "+ create  ConfigMap/shop/cfg" in named.out
    assert named.out.split("\n", 1)[1] == by_file.out.split("\n", 1)[1]  # only the target line differs
    assert built.code == 0 and yamlio.load_all(built.out)[0]["metadata"]["namespace"] == "shop"
