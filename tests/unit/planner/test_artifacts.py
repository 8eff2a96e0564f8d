"""planner/artifacts.py: what a plan and a state record for sources that are OCI artifacts,
and the rollback seam that materialises a recorded revision (the OCI half is exercised
against a real registry in tests/e2e/test_artifact_plan_apply.py)."""

from __future__ import annotations

import pytest

from fluxform.planner.artifacts import (
    TagMoved,
    owner_source_revision,
    pinned_reference,
)
from fluxform.planner.settings import PlanSettings, SourceMapping

DIGEST = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64
FLEET = f"oci://reg:5000/fleet:v1@{DIGEST}"
APPS = f"oci://reg:5000/apps:v3@{OTHER}"


@pytest.mark.parametrize(
    ("settings", "source", "expected"),
    [
        (PlanSettings(), "GitRepository/flux-system/flux-system", ("sha256:tree", "")),
        (PlanSettings(artifact=FLEET), "GitRepository/flux-system/flux-system", ("sha256:tree", DIGEST)),
        (
            PlanSettings(artifact=FLEET, artifact_sources=(SourceMapping("OCIRepository/apps/apps-src", APPS),)),
            "OCIRepository/apps/apps-src",
            (APPS, OTHER),
        ),
        (
            PlanSettings(artifact_sources=(SourceMapping("apps/apps-src", APPS),)),
            "OCIRepository/apps/apps-src",
            (APPS, OTHER),
        ),
        (
            PlanSettings(artifact_sources=(SourceMapping("apps-src", APPS),)),
            "OCIRepository/apps/apps-src",
            (APPS, OTHER),
        ),
        (
            PlanSettings(artifact_sources=(SourceMapping("apps-src", APPS),)),
            "OCIRepository/apps/other",
            ("sha256:tree", ""),
        ),
    ],
    ids=["directory", "fleet-artifact", "mapped-by-kind", "mapped-by-namespace", "mapped-by-name", "unmapped"],
)
def test_owner_source_revision(settings: PlanSettings, source: str, expected: tuple[str, str]) -> None:
    assert owner_source_revision(settings, "sha256:tree", source) == expected


def test_pinned_reference_and_tag_moved_message() -> None:
    assert pinned_reference("oci://reg:5000/fleet:v1", DIGEST) == FLEET
    assert pinned_reference(FLEET, DIGEST) == FLEET
    moved = TagMoved("oci://reg:5000/fleet:v1", DIGEST, OTHER)
    assert moved.summary == f"oci://reg:5000/fleet:v1 now points at {OTHER}, the plan was made from {DIGEST}"
