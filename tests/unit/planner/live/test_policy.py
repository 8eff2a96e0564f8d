"""Flux's per-object policies in a live plan, and the field manager choice."""

from __future__ import annotations

from typing import Any

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.live.policy import FieldManagers, owner_mismatch, prune_blocked, skip_reason
from tests.support.ids import hr, ks

KS = ks("apps")
HR = hr("guestbook", "apps")
ROOT = ks("root", "")


def _obj(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "x", "labels": labels or {}, "annotations": annotations or {}}}


@pytest.mark.parametrize(
    ("desired", "live", "reason"),
    [
        (_obj(), _obj(), ""),
        (_obj(annotations={"kustomize.toolkit.fluxcd.io/reconcile": "Disabled"}), None,
         "skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled"),
        (_obj(), _obj(labels={"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}),
         "skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled"),
        (_obj(labels={"kustomize.toolkit.fluxcd.io/ssa": "ignore"}), _obj(),
         "skipped: kustomize.toolkit.fluxcd.io/ssa: Ignore"),
        (_obj(annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}), _obj(),
         "skipped: kustomize.toolkit.fluxcd.io/ssa: IfNotPresent and it exists"),
        (_obj(annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}), None, ""),
        (_obj(), _obj(annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}), ""),  # desired decides
        (_obj(annotations={"kustomize.toolkit.fluxcd.io/ssa": "Merge"}), _obj(), ""),
    ],
)  # fmt: skip
def test_skip_reason(desired: dict[str, Any], live: dict[str, Any] | None, reason: str) -> None:
    assert skip_reason(desired, live) == reason


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (None, ""),
        (_obj(), ""),
        (
            _obj(annotations={"kustomize.toolkit.fluxcd.io/prune": "disabled"}),
            "kustomize.toolkit.fluxcd.io/prune: disabled",
        ),
        (_obj(labels={"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}), "kustomize.toolkit.fluxcd.io/ssa: Ignore"),
        (_obj(annotations={"kustomize.toolkit.fluxcd.io/prune": "enabled"}), ""),
    ],
)
def test_prune_blocked(obj: dict[str, Any] | None, reason: str) -> None:
    assert prune_blocked(obj) == reason


@pytest.mark.parametrize(
    ("owner", "labels", "reason"),
    [
        (KS, {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}, ""),
        (KS, {"kustomize.toolkit.fluxcd.io/name": "other", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
         "its labels now name Kustomization/flux-system/other as owner"),
        (KS, {}, "it no longer carries the Kustomization owner labels"),
        (HR, {"helm.toolkit.fluxcd.io/name": "guestbook", "helm.toolkit.fluxcd.io/namespace": "apps"}, ""),
        (ROOT, {}, ""),  # fluxform's synthetic root sets no labels
    ],
)  # fmt: skip
def test_owner_mismatch(owner: ObjectId, labels: dict[str, str], reason: str) -> None:
    assert owner_mismatch(_obj(labels=labels), owner) == reason


@pytest.mark.parametrize(
    ("flux", "override", "ks", "hr", "root", "described"),
    [
        (True, "", "kustomize-controller", "helm-controller", "fluxform",
         "kustomize-controller, helm-controller for HelmRelease objects (the cluster runs Flux)"),
        (False, "", "fluxform", "fluxform", "fluxform", "fluxform (the cluster has no Flux)"),
        (True, "ops", "ops", "ops", "ops", "ops (--field-manager)"),
    ],
)  # fmt: skip
def test_field_managers(flux: bool, override: str, ks: str, hr: str, root: str, described: str) -> None:
    managers = FieldManagers.choose(flux_installed=flux, override=override)
    assert (managers.for_owner(KS), managers.for_owner(HR), managers.for_owner(ROOT)) == (ks, hr, root)
    assert managers.describe() == described
