"""Through the CLI on the example fleet: the Markdown plan opens with a Mermaid graph of the
owners, `plan -o html` writes one self-contained report (Secrets masked), and `fluxform
graph` prints the owner graph as Mermaid or DOT, from a fleet or from a saved plan."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.state_from_plan import record_plan
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.html import parse_html
from tests.support.keys import mask_key_of
from tests.support.mermaid import check_mermaid, mermaid_blocks
from tests.unit.views.test_html import assert_self_contained

STAGING = FIXTURES / "fleet/clusters/staging"
PRODUCTION = FIXTURES / "fleet/clusters/production"
OWNERS = {
    "Kustomization flux-system/flux-system",
    "Kustomization flux-system/infra-controllers",
    "Kustomization flux-system/infra-configs",
    "Kustomization flux-system/apps",
    "Kustomization flux-system/team-blue",
    "HelmRelease platform/status-page",
    "HelmRelease apps/guestbook",
}


def labels(mermaid: str) -> set[str]:
    nodes, _ = check_mermaid(mermaid)
    return {label.split("<br/>")[0] for label, _ in nodes.values()}


def test_markdown_opens_with_the_owner_graph() -> None:
    result = run("plan", STAGING, "--keys-dir", KEYS, "-o", "markdown")
    assert result.code == 0, result.err
    [block] = mermaid_blocks(result.out)
    head = result.out.split("```mermaid")[0]
    assert head.count("\n") <= 4 and "**Plan: 46 to add" in head  # title, summary, then the graph
    assert labels(block) == OWNERS
    nodes, edges = check_mermaid(block)
    assert {c for _, c in nodes.values()} == {"add"}  # no state: everything is new
    assert sum(1 for _, arrow, _ in edges if arrow == "-.->") == 4  # dependsOn edges of the fleet


#: what fixtures/fleet's production SOPS Secret cluster-secrets decrypts to (base64 and plain)
PRODUCTION_PLAINTEXTS = (
    "production-tok-43aab04e962bbcf596c3dfac",
    "cHJvZHVjdGlvbi10b2stNDNhYWIwNGU5NjJiYmNmNTk2YzNkZmFj",
    "EzSmG3vlHwE_Z72g0GWmhLyx",
    "RXpTbUczdmxId0VfWjcyZzBHV21oTHl4",
)


def test_html_report(tmp_path: Path) -> None:
    """Production planned against a state recorded from staging: adds, changes (a SOPS
    Secret's among them), destroys and owners not planned (charts that cannot be fetched)."""
    staging_plan, state = tmp_path / "staging.json", tmp_path / "state.json"
    assert run("plan", STAGING, "--keys-dir", KEYS, "--out", staging_plan).code == 0
    record_plan(staging_plan, state, mask_key=mask_key_of(KEYS))
    result = run("plan", PRODUCTION, "--keys-dir", KEYS, "--state", state, "--force-state",
                 "--missing-charts", "warn", "-o", "html")  # fmt: skip
    assert result.code == 0, result.err
    _, document = parse_html(result.out)
    assert_self_contained(document)
    [svg] = document.find_all("svg")
    changes = {g.attrs["data-change"] for g in svg.find_all("g", class_="node")}
    assert changes == {"add", "change", "not planned", "unchanged"}
    [not_planned] = document.find_all("section", id="not-planned")
    assert len(not_planned.find_all("li")) == 2
    blocks = {b.attrs["data-owner"]: b for b in document.find_all("details", class_="owner")}
    flux_system = blocks["flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization"]
    secret = next(
        c for c in flux_system.find_all("div", class_="change") if "Secret/flux-system/cluster-secrets" in c.text
    )
    assert "***(hmac:" in secret.text
    for value in PRODUCTION_PLAINTEXTS:
        assert value not in result.out


def test_graph_of_a_fleet_and_of_a_saved_plan(tmp_path: Path) -> None:
    mermaid = run("graph", STAGING, "--keys-dir", KEYS)
    assert mermaid.code == 0, mermaid.err
    assert labels(mermaid.out) == OWNERS
    dot = run("graph", STAGING, "--keys-dir", KEYS, "-o", "dot")
    assert dot.code == 0 and dot.out.startswith("digraph fluxform {")
    assert len(re.findall(r"^  \"[^\"]+\" \[label=", dot.out, flags=re.MULTILINE)) == len(OWNERS)
    saved = tmp_path / "plan.json"
    assert run("plan", STAGING, "--keys-dir", KEYS, "--out", saved).code == 0
    again = run("graph", saved)
    assert again.code == 0 and again.out == mermaid.out


def test_graph_of_a_path_that_does_not_exist_is_one_line() -> None:
    result = run("graph", "no/such/fleet")
    assert result.code == 1 and len(result.err.splitlines()) == 1 and result.err.startswith("Error: ")
