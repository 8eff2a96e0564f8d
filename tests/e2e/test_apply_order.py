"""The order of the writes, as the emulator's request log saw them: owners in dependsOn order,
inside an owner Flux's stages (cluster definitions, waited for; classes, waited for; the
rest in kind order), every write dry-run once before the first one, and each write preceded
by the read of its pre-image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kubeapi import KubeApi
from tests.support.applyfleet import apply_cli, write_apply_fleet
from tests.support.trees import FLUX_SYSTEM_SOURCE, configmap_text, flux_kustomization, write_tree

pytestmark = pytest.mark.usefixtures("shared_build_cache")

APPLIED = [
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    "/api/v1/namespaces/demo",
    "/apis/storage.k8s.io/v1/storageclasses/fast",
    "/api/v1/namespaces/demo/configmaps/settings",
    "/api/v1/namespaces/demo/secrets/token",
    "/api/v1/namespaces/demo/services/web",
    "/apis/apps/v1/namespaces/demo/deployments/web",
    "/apis/example.com/v1/namespaces/demo/widgets/w1",
]


def test_depends_on_order_and_stages_in_the_request_log(kubeapi: KubeApi, tmp_path: Path) -> None:
    fleet = write_apply_fleet(tmp_path / "repo")
    kubeapi.server.clear_requests()

    result = apply_cli(kubeapi, fleet, tmp_path / "state.json", "--parallelism", "4")

    assert result.code == 0, result.err
    log = [r for r in kubeapi.server.requests if r.path.startswith(("/api/", "/apis/"))]
    applies = [i for i, r in enumerate(log) if r.method == "PATCH" and "dryRun" not in r.query]
    dry_runs = [i for i, r in enumerate(log) if r.method == "PATCH" and r.query.get("dryRun") == "All"]
    assert [log[i].path for i in applies] == APPLIED
    assert all(log[i].query["fieldManager"] == "fluxform" and log[i].query["force"] == "true" for i in applies)
    # the pre-flight: every write dry-run before the first write (but the Widget: its CRD does not exist yet)
    assert set(APPLIED[:-1]) <= {log[i].path for i in dry_runs if i < applies[0]}
    # each write is preceded by the GET of its pre-image
    for i in applies:
        assert log[i - 1].method == "GET" and log[i - 1].path == log[i].path, log[i - 1]
    # stage 1 (CRD, Namespace) is waited for before stage 2 (the StorageClass): the CRD is read
    # again after both were written; stage 2 before the rest likewise
    crd, namespace, storage_class, first_app = applies[0], applies[1], applies[2], applies[3]
    between = [r.path for r in log[namespace + 1 : storage_class]]
    assert APPLIED[0] in between and APPLIED[1] in between
    assert APPLIED[2] in [r.path for r in log[storage_class + 1 : first_app]]
    assert crd < namespace


def _independent_fleet(root: Path) -> Path:
    """Three Kustomizations with nothing between them, one ConfigMap each."""
    files = {
        "clusters/dev/sync.yaml": FLUX_SYSTEM_SOURCE + "---\n" + flux_kustomization("flux-system", "./clusters/dev")
    }
    for name in ("a", "b", "c"):
        files[f"clusters/dev/{name}.yaml"] = flux_kustomization(name, f"./{name}")
        files[f"{name}/cm.yaml"] = configmap_text(name, "default", owner=name)
    write_tree(root, files)
    return root / "clusters" / "dev"


@pytest.mark.parametrize(("parallelism", "reads_before_first_write"), [(1, 1), (2, 2), (3, 3)])
def test_independent_owners_run_concurrently_up_to_parallelism(
    kubeapi: KubeApi, tmp_path: Path, parallelism: int, reads_before_first_write: int
) -> None:
    fleet = _independent_fleet(tmp_path / "repo")
    # each pre-image read answers slowly: owners running at once all read before any writes
    kubeapi.server.inject_fault(r"^/api/v1/namespaces/default/configmaps/[abc]$", method="GET", latency=0.4)
    kubeapi.server.clear_requests()

    result = apply_cli(kubeapi, fleet, tmp_path / "state.json", "--parallelism", str(parallelism))

    assert result.code == 0, result.err
    log = [r for r in kubeapi.server.requests if r.path.startswith("/api/v1/namespaces/default/configmaps/")]
    first_write = next(i for i, r in enumerate(log) if r.method == "PATCH" and "dryRun" not in r.query)
    reads = [r for r in log[:first_write] if r.method == "GET"]
    assert len(reads) == reads_before_first_write
