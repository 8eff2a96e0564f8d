"""Diff rendering: the JSON shape, text, and markdown that fits a PR comment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fluxform.objects import ObjectId
from fluxform.planner.plan import Action, Change
from fluxform.planner.revdiff.compare import (
    ClusterDiff,
    ClusterStatus,
    FleetDiff,
    OwnerDiff,
    OwnerStatusChange,
    Revision,
)
from fluxform.views.revdiff import diff_to_dict, render_diff_json, render_diff_markdown, render_diff_text
from tests.support.ids import ks

BASE = Revision("origin/main", "a" * 40)
HEAD = Revision("HEAD", "b" * 40)


def cm(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"},
            "data": {"k": value}}  # fmt: skip


def update(owner: ObjectId, name: str, size: int = 1) -> Change:
    """An edit of its own (`b` then the object's number): not one made alike across owners."""
    oid = ObjectId("apps", name, "", "ConfigMap")
    return Change(oid, "v1", owner, Action.UPDATE, cm(name, "a" * size), cm(name, "b" * size + name.split("-")[-1]))


def fleet(owners: int, size: int = 1, clusters: int = 1) -> FleetDiff:
    cluster_diffs = []
    for c in range(clusters):
        diffs = tuple(
            OwnerDiff(ks(f"app-{i}"), "Kustomization", OwnerStatusChange.CHANGED, f"./apps/{i}", "",
                      (update(ks(f"app-{i}"), f"cm-{i}", size),), 2)
            for i in range(owners)
        )  # fmt: skip
        quiet = OwnerDiff(ks("quiet"), "Kustomization", OwnerStatusChange.UNCHANGED, "./q", unchanged=4)
        cluster_diffs.append(ClusterDiff(f"clusters/c{c}", ClusterStatus.CHANGED, (*diffs, quiet)))
    skipped = ClusterDiff("clusters/zz", ClusterStatus.UNCHANGED, rendered=False)
    return FleetDiff(BASE, HEAD, "changed-only", ("apps/x.yaml",), (*cluster_diffs, skipped))


def test_json_shape() -> None:
    data = json.loads(render_diff_json(fleet(2)))
    assert data == diff_to_dict(fleet(2))
    assert (data["kind"], data["format_version"], data["mode"]) == ("fluxform-diff", "1.0", "changed-only")
    assert data["base"] == {"revision": "origin/main", "commit": "a" * 40}
    first = data["clusters"][0]
    assert (first["status"], first["rendered"], first["unchanged_owners"]) == ("changed", True, 1)
    assert [o["id"] for o in first["owners"]] == ["Kustomization/flux-system/app-0", "Kustomization/flux-system/app-1"]
    (change,) = first["owners"][0]["changes"]
    assert (change["action"], change["fields"], change["owner"]) == ("update", ["data.k"], str(ks("app-0")))
    assert data["clusters"][1] == {"path": "clusters/zz", "status": "unchanged", "rendered": False,
                                   "summary": {"add": 0, "change": 0, "destroy": 0, "forget": 0, "not_planned": 0},
                                   "owners": [], "unchanged_owners": 0, "diagnostics": []}  # fmt: skip


def test_text() -> None:
    text = render_diff_text(fleet(1))
    assert text.startswith(f"fluxform diff origin/main ({'a' * 12}) -> HEAD ({'b' * 12})\n")
    assert "clusters/c0: 0 to add, 1 to change, 0 to destroy\n" in text
    assert "    ~ update  ConfigMap/apps/cm-0\n" in text and "        -  k: a\n        +  k: b0\n" in text
    assert "clusters/zz: unchanged (no file it reads changed; not rendered)" in text
    assert text.endswith("\nPlan: 0 to add, 1 to change, 0 to destroy.\n")
    assert "\x1b[" not in text and "\x1b[33m" in render_diff_text(fleet(1), colour=True)


def test_markdown_under_the_limit_shows_everything() -> None:
    md = render_diff_markdown(fleet(3))
    assert md.count("<details>") == 3 and "Not shown" not in md
    assert "| `Kustomization/flux-system/app-2` | changed | 0 | 1 | 0 | 0 |" in md
    assert "1 other owner(s) unchanged." in md
    assert "#### `clusters/zz`\n\nunchanged (no file it reads changed; not rendered)" in md


@pytest.mark.parametrize("limit", [6_000, 20_000, 60_000])
def test_markdown_is_cut_to_the_limit_with_a_note(limit: int) -> None:
    md = render_diff_markdown(fleet(40, size=1_000), limit=limit)
    assert len(md) <= limit
    shown = md.count("<details>")
    assert 0 < shown < 40
    assert f"the diffs of {40 - shown} owner(s) ({40 - shown} change(s))" in md


def test_markdown_cuts_whole_tables_too() -> None:
    md = render_diff_markdown(fleet(30, clusters=8), limit=5_000)
    assert len(md) <= 5_000
    assert "the summary of" in md and "cluster path(s) (`clusters/c" in md
    assert md.count("<details>") == 0
