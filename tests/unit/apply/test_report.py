"""The apply report's line for a HelmRelease owner: what Helm did, why an old release was
replaced, its tests, its drift."""

from __future__ import annotations

import pytest

from fluxform.apply.report import OwnerOutcome, OwnerReport
from fluxform.helm.release import ReleaseOutcome, ReleaseRef
from fluxform.helm.worker_protocol import Step
from fluxform.objects import ObjectId

OWNER = ObjectId("team", "shop", "helm.toolkit.fluxcd.io", "HelmRelease")
REF = ReleaseRef("shop", "team", "team")


def _line(**fields: object) -> str:
    base: dict[str, object] = dict(
        owner=OWNER, release=REF, action="upgrade", revision_before=1, revision_after=2, status="deployed",
        field_manager="fluxform",
    )  # fmt: skip
    release = ReleaseOutcome(**{**base, **fields})  # type: ignore[arg-type]
    return OwnerReport(OWNER, OwnerOutcome.APPLIED, release=release).summary_line()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "Helm upgrade (revision 1 -> revision 2, deployed)"),
        (
            {"steps": (Step("upgrade", 2, "deployed"), Step("test", 2, "deployed"))},
            "Helm upgrade (revision 1 -> revision 2, deployed); Helm tests passed",
        ),
        (
            {"steps": (Step("upgrade", 2, "deployed"), Step("test", 2, "deployed", error="pod shop-smoke failed"))},
            "Helm upgrade (revision 1 -> revision 2, deployed); Helm tests failed (ignored)",
        ),
        (
            {"action": "install", "revision_before": None, "revision_after": 1, "replaced": "chart name changed"},
            "Helm install (no release -> revision 1, deployed) after uninstalling the old release: chart name changed",
        ),
        (
            {"action": "correct-drift", "revision_after": 1, "drift": ("ConfigMap/team/x (/data/a)",)},
            "Helm correct-drift (revision 1 -> revision 1, deployed); drift corrected: ConfigMap/team/x (/data/a)",
        ),
        (
            {"action": "none", "revision_after": 1, "drift": ("Deployment/team/web (deleted)",)},
            "Helm none (revision 1 -> revision 1, deployed); drift detected, not corrected (driftDetection: warn)"
            ": Deployment/team/web (deleted)",
        ),
    ],
    ids=["upgrade", "tests-passed", "tests-ignored", "replaced", "drift-corrected", "drift-warned"],
)  # fmt: skip
def test_release_line(fields: dict[str, object], expected: str) -> None:
    assert _line(**fields) == f"HelmRelease/team/shop: applied: {expected}"
