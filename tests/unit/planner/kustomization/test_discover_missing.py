"""A Kustomization or HelmRelease whose source is not mapped, whose looked-up object only
exists in the cluster (external-secrets, another repository) or whose keys were not given is
not planned, with the reason and the cause a --missing-* warn flag accepts; the rest of the
fleet renders as usual (whether the plan may go on is planner/partial.py's call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.model import Cause, DesiredState, OwnerStatus
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import FleetSecrets, SecretOptions
from fluxform.sources.chart_cache import ChartCache
from tests.support.trees import flux_kustomization, write_tree

SUBSTITUTE_FROM_RUNTIME_SECRET = """\
  postBuild:
    substituteFrom:
      - kind: Secret
        name: tunnel-id
"""
RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/web
      sourceRef:
        kind: GitRepository
        name: flux-system
  valuesFrom:
    - kind: ConfigMap
      name: made-in-the-cluster
"""
FLEET = {
    "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
    "clusters/dev/tunnel.yaml": flux_kustomization("tunnel", "./apps/tunnel", SUBSTITUTE_FROM_RUNTIME_SECRET),
    "clusters/dev/team.yaml": flux_kustomization("team", "./deploy", source="team-repo"),
    "clusters/dev/plain.yaml": flux_kustomization("plain", "./apps/plain"),
    "apps/tunnel/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tunnel\n  namespace: default\n"
    "data:\n  id: ${tunnel_id}\n",
    "apps/plain/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: default\n",
    "apps/plain/release.yaml": RELEASE,
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    "charts/web/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata: {}\n",
}


def ks(name: str) -> ObjectId:
    return ObjectId("flux-system", name, "kustomize.toolkit.fluxcd.io", "Kustomization")


WEB = ObjectId("flux-system", "web", "helm.toolkit.fluxcd.io", "HelmRelease")


def _render(tmp_path: Path) -> DesiredState:
    root = write_tree(tmp_path / "repo", FLEET)
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts")))
    return discover(root / "clusters/dev", DiscoverOptions(repo_root=root, cache=BuildCache.disabled(), helm=helm))


def test_each_is_not_planned_with_its_reason_file_and_cause_and_the_rest_renders(tmp_path: Path) -> None:
    state = _render(tmp_path)

    left_out = {o.id: (o.status, o.cause, str(o.origin)) for o in state.owners if o.status is not OwnerStatus.BUILT}
    assert left_out == {
        ks("team"): (OwnerStatus.NOT_PLANNED, Cause.SOURCE, "clusters/dev/team.yaml"),
        ks("tunnel"): (OwnerStatus.NOT_PLANNED, Cause.OBJECT, "clusters/dev/tunnel.yaml"),
        WEB: (OwnerStatus.NOT_PLANNED, Cause.OBJECT, "apps/plain/release.yaml"),
    }
    assert [str(o.id) for o in state.owner(ks("plain")).objects] == [  # type: ignore[union-attr]
        "ConfigMap/default/plain",
        "HelmRelease/flux-system/web",
    ]
    reasons = {o.id: o.reason for o in state.owners}
    assert reasons[ks("team")].startswith("cannot resolve spec.sourceRef GitRepository/flux-system/team-repo")
    assert reasons[ks("tunnel")].startswith("substitute from 'Secret/tunnel-id' error: not found")
    assert "made-in-the-cluster" in reasons[WEB]
    assert "ConfigMap/default/tunnel" not in {str(i) for i in state.objects()}  # nothing of it is planned


REPO = Path(__file__).resolve().parents[4]
ENCRYPTED = (REPO / "fixtures/fleet/clusters/staging/vars/cluster-secrets.yaml").read_text()  # age, TEST-ONLY key
DECRYPTING = "  decryption:\n    provider: sops\n"


def test_without_keys_only_what_must_decrypt_is_not_planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)  # no key at all, as in CI without secrets
    files = {
        "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/secrets.yaml": flux_kustomization("secrets", "./apps/secrets", DECRYPTING),
        "clusters/dev/plain.yaml": flux_kustomization("plain", "./apps/plain"),
        "apps/secrets/secret.yaml": ENCRYPTED,
        "apps/plain/cm.yaml": FLEET["apps/plain/cm.yaml"],
    }
    root = write_tree(tmp_path / "repo", files)

    with FleetSecrets(SecretOptions()) as secrets:
        options = DiscoverOptions(repo_root=root, cache=BuildCache.disabled(), decryptor=secrets)
        state = discover(root / "clusters/dev", options)

    secret_owner = state.owner(ks("secrets"))
    assert secret_owner is not None and (secret_owner.status, secret_owner.cause) == (
        OwnerStatus.NOT_PLANNED,
        Cause.KEYS,
    )
    assert secret_owner.reason.startswith("no decryption keys for this Kustomization")
    assert [str(o.id) for o in state.owner(ks("plain")).objects] == ["ConfigMap/default/plain"]  # type: ignore[union-attr]
