"""Plans of the example fleet against a live cluster (the emulator, through the real
kubernetes client): create, no-op, update, drift, adopt, delete, replace."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fluxform.decrypt.mask import secret_plaintexts
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Plan
from fluxform.planner.planfile import plan_file_from, plan_file_json
from fluxform.views.plan import render_text
from tests.e2e.live_cluster import (
    apply_fleet,
    by_id,
    changes_by_action,
    edit_live,
    ensure_namespace,
    install_flux_crds,
    plan,
    plan_desired,
    render,
)
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES
from tests.support.trees import replace_in_file

pytestmark = pytest.mark.usefixtures("shared_build_cache")

STAGING = FIXTURES / "fleet" / "clusters" / "staging"
OBJECTS = 46  # 37 from Kustomizations, 9 rendered by the two HelmReleases


@pytest.fixture
def cluster(kubeapi: KubeApi) -> KubeApi:
    """A cluster bootstrapped with Flux: its namespace and CRDs exist."""
    ensure_namespace(kubeapi, "flux-system")
    install_flux_crds(kubeapi)
    return kubeapi


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example fleet outside git, like `fleet_copy`: both render alike (Flux
    puts the source revision into HelmRelease chart versions, a git checkout's differs)."""
    dest = tmp_path_factory.mktemp("pristine") / "fleet"
    shutil.copytree(FIXTURES / "fleet", dest)
    return dest / "clusters" / "staging"


@pytest.fixture(scope="module")
def staging(pristine: Path) -> DesiredState:
    """The staging fleet rendered once for the module (decrypted, in memory)."""
    return render(pristine)


@pytest.fixture
def state(cluster: KubeApi, staging: DesiredState, tmp_path: Path) -> Path:
    """The state file after applying the staging fleet to the cluster."""
    state_file = tmp_path / "state.json"
    apply_fleet(cluster, staging, state_file)
    return state_file


@pytest.fixture
def cluster_dir(fleet_copy: Path) -> Path:
    """The staging cluster of `fleet_copy`, which the tests edit."""
    return fleet_copy / "clusters" / "staging"


def _lists(api: KubeApi) -> list[str]:
    """Object reads; the Helm release lookups (label selector owner=helm) are counted apart."""
    return [r.path for r in api.server.requests if r.verb == "list" and not _helm_lookup(r)]


def _helm_lookup(request: Any) -> bool:
    return "owner=helm" in str(request.query.get("labelSelector", ""))


def test_first_plan_creates_everything_with_one_list_per_type(cluster: KubeApi) -> None:
    cluster.server.clear_requests()
    result = plan(cluster, STAGING)
    assert result.counts() == {"add": OBJECTS, "change": 0, "destroy": 0, "forget": 0, "unchanged": 0}
    assert result.mode == "live"
    assert result.live is not None and result.live.field_managers.kustomization == "kustomize-controller"
    lists = _lists(cluster)
    assert len(lists) == len(set(lists)), "a type was listed twice"
    assert cluster.server.request_count(verb="get") == 0, "no GET per object"
    by_resource = Counter(path.rsplit("/", 1)[1] for path in lists)
    assert by_resource["deployments"] == 1  # apps and team-blue: one cluster-wide LIST
    assert "/apis/apps/v1/deployments" in lists
    assert [p for p in lists if p.endswith("/secrets")] == ["/api/v1/secrets"]  # apps and flux-system: one LIST
    (secrets,) = [r for r in cluster.server.requests if r.path == "/api/v1/secrets"]
    assert secrets.query["fieldSelector"] == "type!=helm.sh/release.v1"  # never Helm's release storage
    helm = sorted(r.path for r in cluster.server.requests if r.verb == "list" and _helm_lookup(r))
    assert helm == ["/api/v1/namespaces/apps/secrets", "/api/v1/namespaces/platform/secrets"]  # storage namespaces
    assert len(lists) < OBJECTS / 2
    # new namespaces: their objects are not dry-run (the namespace does not exist yet)
    assert cluster.server.request_count(verb="patch") < OBJECTS


def test_plan_after_apply_is_all_no_op_and_the_dry_run_agrees(
    cluster: KubeApi, staging: DesiredState, pristine: Path, state: Path
) -> None:
    cluster.server.clear_requests()
    quick = plan(cluster, pristine, state)
    assert quick.counts()["unchanged"] == OBJECTS and not quick.has_changes()
    assert cluster.server.request_count(verb="patch") == 0  # nothing could change: no dry-run needed
    assert not quick.drift
    cluster.server.clear_requests()
    full = plan_desired(cluster, staging, state, always_dry_run=True)
    assert not full.has_changes(), [(str(c.id), c.diff) for c in full.changes if c.action != "no-op"]
    assert cluster.server.request_count(verb="patch") == OBJECTS
    assert [(c.id, c.action, c.after) for c in quick.changes] == [(c.id, c.action, c.after) for c in full.changes]


def test_repo_edit_is_a_field_level_update(
    cluster: KubeApi, staging: DesiredState, fleet_copy: Path, cluster_dir: Path, state: Path
) -> None:
    quotas = fleet_copy / "infrastructure" / "configs" / "quotas.yaml"
    replace_in_file(quotas, 'requests.cpu: "2"', 'requests.cpu: "8"')
    result = plan(cluster, cluster_dir, state)
    assert _outside_guestbook(result)["update"] == ["ResourceQuota/team-blue/team-blue-quota"]
    change = by_id(result, "ResourceQuota/team-blue/team-blue-quota")
    assert "-    requests.cpu: '2'\n+    requests.cpu: '8'" in change.diff
    assert "resourceVersion" not in change.diff and "managedFields" not in change.diff
    live = cluster.server.get(("", "ResourceQuota", "team-blue", "team-blue-quota"))
    assert live is not None and change.live_resource_version == live["metadata"]["resourceVersion"]
    assert not result.drift  # the repo changed: an update, not drift
    entry = next(
        c for c in json.loads(plan_file_json(plan_file_from(result)))["changes"] if c["name"] == "team-blue-quota"
    )
    assert entry["desired"]["spec"]["hard"]["requests.cpu"] == "8"  # what apply sends, not the dry-run result
    assert entry["live_resource_version"] == live["metadata"]["resourceVersion"] and not entry["adopted"]
    text = render_text(plan_file_from(result))
    assert "~ update  ResourceQuota/team-blue/team-blue-quota" in text
    assert "Plan: 0 to add, 5 to change, 0 to destroy." in text  # 1 + guestbook's 4


def test_change_outside_fluxform_is_drift(cluster: KubeApi, staging: DesiredState, state: Path) -> None:
    cm = cluster.server.get(("", "ConfigMap", "flux-system", "cluster-settings"))
    assert cm is not None
    edit_live(cluster, cm, data={**cm["data"], "cluster_name": "hacked"})
    result = plan_desired(cluster, staging, state)
    assert [str(d.id) for d in result.drift] == ["ConfigMap/flux-system/cluster-settings"]
    update = by_id(result, "ConfigMap/flux-system/cluster-settings")
    assert update.action == "update" and "reverts changes made outside of fluxform" in update.reason
    assert "-  cluster_name: hacked\n+  cluster_name: staging" in update.diff
    assert "+  cluster_name: hacked" in result.drift[0].diff  # drift: from the applied form to live
    text = render_text(plan_file_from(result))
    assert "Objects changed outside of fluxform since the last apply:" in text


def test_object_deleted_outside_is_recreated_and_reported(cluster: KubeApi, staging: DesiredState, state: Path) -> None:
    cluster.server.delete(("", "Service", "team-blue", "echo"))
    result = plan_desired(cluster, staging, state)
    assert changes_by_action(result)["create"] == ["Service/team-blue/echo"]
    assert "deleted outside of fluxform" in by_id(result, "Service/team-blue/echo").reason
    assert [(str(d.id), str(d.action)) for d in result.drift] == [("Service/team-blue/echo", "delete")]


def test_objects_missing_from_the_state_are_adopted_with_a_warning(
    cluster: KubeApi, staging: DesiredState, tmp_path: Path
) -> None:
    apply_fleet(cluster, staging, tmp_path / "state.json")
    result = plan_desired(cluster, staging, None)  # the cluster has them, no state knows them
    assert not result.has_changes()
    assert all(getattr(c, "adopted", False) for c in result.changes)
    warning = next(d.summary for d in result.diagnostics if "exist in the cluster but not in the state" in d.summary)
    assert warning.startswith(f"{OBJECTS} object(s)")
    assert by_id(result, "Deployment/apps/podinfo").reason.startswith("adopts it")


def test_removed_object_is_deleted_unless_prune_is_disabled_live(
    cluster: KubeApi, staging: DesiredState, fleet_copy: Path, cluster_dir: Path, state: Path
) -> None:
    (fleet_copy / "infrastructure" / "configs" / "storage-classes.yaml").unlink()
    kustomization = fleet_copy / "infrastructure" / "configs" / "kustomization.yaml"
    replace_in_file(kustomization, "  - storage-classes.yaml\n", "")
    result = plan(cluster, cluster_dir, state)
    delete = by_id(result, "StorageClass/fast-ssd")
    assert delete.action == "delete" and delete.live_resource_version
    assert "no longer rendered by Kustomization/flux-system/infra-configs" in delete.reason
    live = cluster.server.get(("storage.k8s.io", "StorageClass", "", "fast-ssd"))
    assert live is not None
    annotations = {"kustomize.toolkit.fluxcd.io/prune": "Disabled"}
    edit_live(cluster, live, metadata={"annotations": annotations})
    kept = by_id(plan(cluster, cluster_dir, state), "StorageClass/fast-ssd")
    assert kept.action == "forget" and kept.reason == "kustomize.toolkit.fluxcd.io/prune: disabled"


def test_object_another_kustomization_took_over_is_not_deleted(
    cluster: KubeApi, staging: DesiredState, fleet_copy: Path, cluster_dir: Path, state: Path
) -> None:
    (fleet_copy / "tenants" / "team-blue" / "service.yaml").unlink()
    live = cluster.server.get(("", "Service", "team-blue", "echo"))
    assert live is not None
    labels = {**live["metadata"]["labels"], "kustomize.toolkit.fluxcd.io/name": "other"}
    edit_live(cluster, live, metadata={"labels": labels})
    change = by_id(plan(cluster, cluster_dir, state), "Service/team-blue/echo")
    assert change.action == "forget"
    assert "Kustomization/flux-system/other as owner" in change.reason


def test_immutable_field_change_is_a_replace_with_the_reason(
    cluster: KubeApi, staging: DesiredState, fleet_copy: Path, cluster_dir: Path, state: Path
) -> None:
    deployment = fleet_copy / "tenants" / "team-blue" / "deployment.yaml"
    replace_in_file(deployment, "app.kubernetes.io/name: echo", "app.kubernetes.io/name: echo2")
    result = plan(cluster, cluster_dir, state)
    replace = by_id(result, "Deployment/team-blue/echo")
    assert replace.action == "replace"
    assert replace.reason.startswith("spec.selector cannot change (immutable)")
    assert "force: enabled" in replace.reason  # Flux itself would refuse without it
    assert "app.kubernetes.io/name: echo2" in replace.diff
    assert _outside_guestbook(result) == {"replace": ["Deployment/team-blue/echo"]}
    text = render_text(plan_file_from(result))
    assert "-/+ replace Deployment/team-blue/echo  # spec.selector cannot change" in text


def test_secret_values_never_reach_the_live_plan(
    cluster: KubeApi, staging: DesiredState, pristine: Path, state: Path
) -> None:
    live = cluster.server.get(("", "Secret", "apps", "podinfo-token"))
    assert live is not None
    edit_live(cluster, live, stringData={"token": "changed-outside-7f3a9"})
    result = plan(cluster, pristine, state)
    change = by_id(result, "Secret/apps/podinfo-token")
    assert change.action == "update" and "***(hmac:" in change.diff
    plaintexts = [v for o in staging.objects().values() for v in secret_plaintexts(o.body)]
    outputs = [render_text(plan_file_from(result)), plan_file_json(plan_file_from(result))]
    for value in [*plaintexts, b"changed-outside-7f3a9"]:
        assert len(value) >= 4
        for output in outputs:
            assert value.decode() not in output


def _outside_guestbook(result: Plan) -> dict[str, list[str]]:
    """Changes other than the guestbook HelmRelease's: its chart comes from the fleet's own
    GitRepository with reconcileStrategy Revision, so any edit of the repository changes its
    chart version (the `helm.sh/chart` label), exactly as under Flux."""
    changes = {}
    for action, ids in changes_by_action(result).items():
        kept = [i for i in ids if "guestbook-podinfo-lite" not in i]
        if kept and action != "no-op":
            changes[action] = kept
    guestbook = [c for c in result.changes if "guestbook-podinfo-lite" in str(c.id) and c.action != "no-op"]
    assert all("helm.sh/chart: podinfo-lite-1.4.0_" in c.diff for c in guestbook)
    return changes
