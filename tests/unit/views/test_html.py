"""The HTML report's structure (parsed, every tag closed): summary, legend and an inline SVG
graph with a node per owner, owners not planned listed open, one collapsible block per owner
with changes, warnings; nothing fetched or run (no script, link, image or URL but the SVG
namespace); any plan's text escaped."""

from __future__ import annotations

from hypothesis import given, settings

from fluxform.planner.model import OwnerStatus
from fluxform.planner.plan import Action
from fluxform.planner.planfile import NotPlanned, PlanDiagnostic, PlanFile
from fluxform.views.graph import collapse, graph_of_plan
from fluxform.views.html import render_html
from tests.support.html import Element, parse_html
from tests.support.planfiles import plan_files
from tests.unit.views.test_graph import change, ks, owner, plan_of

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def assert_self_contained(root: Element) -> None:
    for element in root.walk():
        assert element.tag not in ("script", "link", "img", "iframe", "object", "embed"), element.tag
        for name, value in element.attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{element.tag}>"
            if (element.tag, name) != ("svg", "xmlns"):
                assert "://" not in value, f"<{element.tag} {name}={value!r}>"
    assert "url(http" not in root.text and "@import" not in root.text


def test_the_report_structure() -> None:
    root_id, apps, stuck = ks("flux-system"), ks("apps"), ks("stuck")
    plan = plan_of(
        [owner(root_id), owner(apps, parent=root_id), owner(stuck, parent=root_id, status=OwnerStatus.NOT_PLANNED)],
        [change(root_id, "same", Action.NOOP), change(apps, "new", Action.CREATE), change(apps, "old", Action.UPDATE)],
        (NotPlanned(stuck, "depends on <something> & more", "clusters/dev/stuck.yaml"),),
    )
    plan = PlanFile(**{**plan.__dict__, "diagnostics": (PlanDiagnostic("a <warning>", None),)})
    doctype, document = parse_html(render_html(plan))
    assert doctype.lower() == "doctype html"
    assert_self_contained(document)
    [head] = document.find_all("head")
    [title] = head.find_all("title")
    assert title.text == "fluxform plan: clusters/dev"
    [summary] = document.find_all("p", id="summary")
    assert summary.text == "Plan: 1 to add, 1 to change, 0 to destroy; 1 owner not planned."
    [svg] = document.find_all("svg")
    nodes = {g.attrs["data-key"]: g.attrs["data-change"] for g in svg.find_all("g", class_="node")}
    assert nodes == {
        root_id.inventory_id(): "unchanged",
        apps.inventory_id(): "change",
        stuck.inventory_id(): "not planned",
    }
    assert len(svg.find_all("path", class_="edge")) == 2
    [legend] = document.find_all("p", class_="legend")
    assert [s.text for s in legend.find_all("span")] == ["add", "change", "destroy", "not planned", "unchanged"]
    [not_planned] = document.find_all("section", id="not-planned")
    assert not not_planned.find_all("details")  # never folded
    assert "depends on <something> & more" in not_planned.text
    blocks = document.find_all("details", class_="owner")
    assert [b.attrs["data-owner"] for b in blocks] == [apps.inventory_id()]
    actions = [a.text for a in blocks[0].find_all("div", class_="action")]
    assert actions == ["+ create ConfigMap/apps/new", "~ update ConfigMap/apps/old"]
    assert blocks[0].find_all("span", class_="add")  # the update's diff, line by line
    [warnings] = document.find_all("section", id="warnings")
    assert warnings.text.strip().endswith("a <warning>")


def test_the_graph_source_is_in_the_report() -> None:
    plan = plan_of([owner(ks("a"))], [change(ks("a"), "x", Action.CREATE)])
    _, document = parse_html(render_html(plan))
    [source] = document.find_all("pre", class_="mermaid-source")
    assert source.text.startswith("flowchart TB\n")
    assert len(graph_of_plan(plan).nodes) == len(collapse(graph_of_plan(plan)).nodes) == 1


@settings(max_examples=40, deadline=None)
@given(plan_files())
def test_any_plan_renders_a_well_formed_self_contained_report(plan: PlanFile) -> None:
    _, document = parse_html(render_html(plan))
    assert_self_contained(document)
    [head] = document.find_all("head")
    [title] = head.find_all("title")
    assert title.text == f"fluxform plan: {plan.target}"
