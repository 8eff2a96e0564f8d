"""`diff -o markdown` (the PR comment) opens with the owner graph `plan -o markdown` has, and
`diff -o html` writes the same self-contained report as `plan -o html`, per cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_plan_picture import OWNERS, labels
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.gitrepo import TestRepo
from tests.support.html import parse_html
from tests.support.mermaid import check_mermaid, mermaid_blocks
from tests.unit.views.test_html import assert_self_contained

TEAM_BLUE = "fleet/tenants/team-blue/service.yaml"


@pytest.fixture
def changed(tmp_path: Path) -> tuple[TestRepo, str]:
    """The example fleet, then team-blue's Service on another port."""
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "fleet", "fleet")
    base = repo.commit("fleet")
    text = repo.read(TEAM_BLUE)
    assert "port: 80\n" in text
    repo.write(TEAM_BLUE, text.replace("port: 80\n", "port: 8080\n", 1))
    repo.commit("team-blue on 8080")
    return repo, base


def _diff(repo: TestRepo, base: str, output: str) -> str:
    result = run("diff", repo.path / "fleet/clusters/staging", "--base", base, "--keys-dir", KEYS,
                 "--no-step-summary", "-o", output)  # fmt: skip
    assert result.code == 0, result.err
    return result.out


def test_markdown_opens_with_the_owner_graph(changed: tuple[TestRepo, str]) -> None:
    repo, base = changed
    markdown = _diff(repo, base, "markdown")
    [block] = mermaid_blocks(markdown)
    head = markdown.split("```mermaid")[0]
    assert head.count("\n") <= 6 and "**Plan: 0 to add, " in head  # title, summary, revisions, the graph
    assert markdown.index("```mermaid") < markdown.index("| Owner |")
    assert labels(block) == OWNERS
    nodes, edges = check_mermaid(block)
    by_label = {label.split("<br/>")[0]: change for label, change in nodes.values()}
    assert by_label["Kustomization flux-system/team-blue"] == "change"
    assert by_label["Kustomization flux-system/infra-configs"] == "unchanged"
    assert sum(1 for _, arrow, _ in edges if arrow == "-.->") == 4  # the fleet's dependsOn edges, as in plan
    assert sum(1 for _, arrow, _ in edges if arrow == "-->") == len(OWNERS) - 1  # every owner but the root has a parent


def test_html_report(changed: tuple[TestRepo, str]) -> None:
    repo, base = changed
    doctype, document = parse_html(_diff(repo, base, "html"))
    assert doctype.lower() == "doctype html"
    assert_self_contained(document)
    [cluster] = document.find_all("section", class_="cluster")
    assert cluster.attrs["data-path"] == "fleet/clusters/staging"
    [svg] = cluster.find_all("svg")
    assert len(svg.find_all("g", class_="node")) == len(OWNERS)
    assert "change" in {g.attrs["data-change"] for g in svg.find_all("g", class_="node")}
    blocks = {b.attrs["data-owner"]: b for b in cluster.find_all("details", class_="owner")}
    service = blocks["flux-system_team-blue_kustomize.toolkit.fluxcd.io_Kustomization"]
    assert "~ update Service/team-blue/echo" in service.text and "+    port: 8080" in service.text
