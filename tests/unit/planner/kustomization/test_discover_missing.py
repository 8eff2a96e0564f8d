"""--missing-sources / --missing-objects: a Kustomization or HelmRelease whose source is not
mapped, or whose looked-up object only exists in the cluster (external-secrets, another
repository), fails the plan by default, or is planned as not rendered with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.errors import MissingKeys, ObjectNotFound, SourceError
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.model import DesiredState, OwnerStatus
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import FleetSecrets, SecretOptions
from fluxform.sources.chart_cache import ChartCache
from tests.support.desired import owner_of
from tests.support.fleets import MISSING_INPUTS
from tests.support.ids import hr, ks
from tests.support.trees import flux_kustomization, write_tree

WEB = hr("web")


def _render(tmp_path: Path, *, sources: str = "error", objects: str = "error") -> DesiredState:
    root = write_tree(tmp_path / "repo", MISSING_INPUTS)
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts"), missing_objects=objects))
    options = DiscoverOptions(
        repo_root=root,
        cache=BuildCache.disabled(),
        helm=helm,
        missing_sources=sources,
        missing_objects=objects,
    )
    return discover(root / "clusters/dev", options)


def test_by_default_an_unmapped_source_fails_the_plan(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"cannot resolve spec\.sourceRef GitRepository/flux-system/team-repo"):
        _render(tmp_path, objects="warn")


def test_by_default_an_object_nothing_produces_fails_the_plan(tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound, match="substitute from 'Secret/tunnel-id'") as caught:
        _render(tmp_path, sources="warn")
    assert caught.value.missing == ("Secret", "flux-system", "tunnel-id")


def test_warn_plans_them_as_not_rendered_and_says_why(tmp_path: Path) -> None:
    state = _render(tmp_path, sources="warn", objects="warn")

    statuses = {o.id: o.status for o in state.owners}
    assert statuses[ks("team")] is OwnerStatus.EXTERNAL
    assert statuses[ks("tunnel")] is OwnerStatus.EXTERNAL
    assert statuses[WEB] is OwnerStatus.EXTERNAL
    assert statuses[ks("plain")] is OwnerStatus.BUILT  # the rest of the fleet is planned
    assert [str(o.id) for o in owner_of(state, ks("plain")).objects] == [
        "ConfigMap/default/plain",
        "HelmRelease/flux-system/web",
    ]
    warnings = [d.one_line() for d in state.diagnostics]
    assert any("team" in w and "not rendered: cannot resolve spec.sourceRef" in w for w in warnings)
    assert any("tunnel" in w and "not rendered: substitute from 'Secret/tunnel-id'" in w for w in warnings)
    assert any("web" in w and "not rendered" in w and "made-in-the-cluster" in w for w in warnings)


REPO = Path(__file__).resolve().parents[4]
ENCRYPTED = (REPO / "fixtures/fleet/clusters/staging/vars/cluster-secrets.yaml").read_text()  # age, TEST-ONLY key
DECRYPTING = "  decryption:\n    provider: sops\n"


def test_missing_keys_warn_skips_only_what_must_decrypt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)  # no key at all, as in CI without secrets
    files = {
        "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/secrets.yaml": flux_kustomization("secrets", "./apps/secrets", DECRYPTING),
        "clusters/dev/plain.yaml": flux_kustomization("plain", "./apps/plain"),
        "apps/secrets/secret.yaml": ENCRYPTED,
        "apps/plain/cm.yaml": MISSING_INPUTS["apps/plain/cm.yaml"],
    }
    root = write_tree(tmp_path / "repo", files)

    def render(policy: str) -> DesiredState:
        with FleetSecrets(SecretOptions()) as secrets:
            options = DiscoverOptions(
                repo_root=root, cache=BuildCache.disabled(), decryptor=secrets, missing_keys=policy
            )
            return discover(root / "clusters/dev", options)

    with pytest.raises(MissingKeys, match="no decryption keys for this Kustomization"):
        render("error")
    state = render("warn")
    assert owner_of(state, ks("secrets")).status is OwnerStatus.EXTERNAL
    assert [str(o.id) for o in owner_of(state, ks("plain")).objects] == ["ConfigMap/default/plain"]
    assert any("not rendered: no decryption keys" in d.summary for d in state.diagnostics)
