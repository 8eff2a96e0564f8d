"""A plan as one self-contained HTML report: summary, owner graph, owners not planned, then one
collapsible block of diffs per owner. Styles inline, the graph inline SVG (views/svg.py), no
script and nothing fetched, so the file can be mailed, archived as a CI artifact and opened
offline. Built from the PlanFile, whose manifests and diffs are masked: Secret values are
`***(hmac:…)` here as everywhere.

    html = render_html(plan_file)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.planfile import PlanFile, PlannedChange
from fluxform.views.graph import STYLES, NodeChange, OwnerGraph, collapse, graph_of_plan, render_mermaid
from fluxform.views.plan import SYMBOLS, address, change_entry, summary_line
from fluxform.views.svg import render_svg

__all__ = ["change_html", "graph_section", "legend", "page", "render_html"]

_CSS = """
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;
margin:0 auto;max-width:1200px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.summary{font-size:16px;font-weight:600;margin:8px 0}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:8px 0;color:#57606a}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.legend span{display:inline-block;border:1.5px solid;border-radius:5px;padding:1px 8px;margin-right:6px;font-size:12px}
.graph-box{overflow-x:auto;border:1px solid #d0d7de;border-radius:6px;padding:8px;background:#f6f8fa}
.not-planned li{margin:4px 0}.warn{color:#9a6700}
details.owner{border:1px solid #d0d7de;border-radius:6px;margin:8px 0}
details.owner>summary{cursor:pointer;padding:8px 12px;background:#f6f8fa;font-weight:600}
details.owner[open]>summary{border-bottom:1px solid #d0d7de}
.change{padding:6px 12px}.action{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
.create{color:#1a7f37}.update{color:#9a6700}.replace{color:#8250df}.delete{color:#cf222e}.forget{color:#0550ae}
pre.diff{background:#f6f8fa;border-radius:6px;padding:8px;overflow-x:auto;margin:4px 0}
pre.diff span{display:inline-block;min-width:100%}
pre.diff .add{background:#dafbe1}pre.diff .del{background:#ffebe9}pre.diff .hunk{color:#0550ae}
"""


def page(title: str, body: Sequence[str]) -> str:
    """One self-contained document: inline styles, `body` as given."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def graph_section(graph: OwnerGraph, *, section_id: str = "graph", heading: str = "h2") -> list[str]:
    """The legend, the graph as inline SVG and its Mermaid source."""
    return [
        f'<section id="{escape(section_id)}" class="graph">',
        f"<{heading}>Owners</{heading}>",
        legend(),
        f'<div class="graph-box">{render_svg(graph)}</div>',
        "<details><summary>Mermaid source of this graph</summary>",
        f'<pre class="mermaid-source">{escape(render_mermaid(graph))}</pre>',
        "</details>",
        "</section>",
    ]


def render_html(plan: PlanFile) -> str:
    """The whole report, `<!DOCTYPE html>` to `</html>`."""
    graph = collapse(graph_of_plan(plan))
    body = [
        *_header(plan),
        *graph_section(graph),
        *_not_planned(plan),
        *_changes(plan),
        *_drift(plan),
        *_warnings(plan),
    ]
    return page(f"fluxform plan: {plan.target}", body)


def _header(plan: PlanFile) -> list[str]:
    facts = [
        ("mode", "offline (no cluster was read)" if plan.live is None else "against the live cluster"),
        ("source", plan.source.revision),
        ("state", f"lineage {plan.state.lineage}, serial {plan.state.serial}" if plan.state.lineage else "none"),
    ]
    if plan.live is not None:
        facts.append(("cluster", f"{plan.live.context or '(in-cluster)'} ({plan.live.server})"))
    rows = "".join(f"<dt>{escape(k)}</dt><dd><code>{escape(v)}</code></dd>" for k, v in facts)
    return [
        "<header>",
        f"<h1>fluxform plan: <code>{escape(plan.target)}</code></h1>",
        f'<p class="summary" id="summary">{escape(summary_line(plan.counts()))}</p>',
        f'<dl class="facts">{rows}</dl>',
        "</header>",
    ]


def legend() -> str:
    items = []
    for change in NodeChange:
        fill, stroke = STYLES[change]
        style = f"background:{fill};border-color:{stroke}" + (
            ";border-style:dashed" if change is NodeChange.NOT_PLANNED else ""
        )
        items.append(f'<span style="{style}">{escape(change.value)}</span>')
    return (
        f'<p class="legend">{"".join(items)} solid arrow: parent applies child; dotted: dependsOn '
        "(the lower one waits)</p>"
    )


def _not_planned(plan: PlanFile) -> list[str]:
    if not plan.not_planned:
        return []
    items = [
        f"<li><code>{escape(str(n.owner))}</code>" + (f" (<code>{escape(n.file)}</code>)" if n.file else "")
        + f": {escape(n.reason)}</li>"
        for n in plan.not_planned
    ]  # fmt: skip
    return [
        '<section id="not-planned" class="not-planned">',
        f"<h2>Not planned ({len(plan.not_planned)})</h2>",
        "<p>Their objects are left as they are; what would change for them is unknown.</p>",
        f"<ul>{''.join(items)}</ul>",
        "</section>",
    ]


def _by_owner(changes: Sequence[PlannedChange]) -> dict[ObjectId, list[PlannedChange]]:
    grouped: dict[ObjectId, list[PlannedChange]] = {}
    for change in changes:
        grouped.setdefault(change.owner, []).append(change)
    return grouped


def _changes(plan: PlanFile) -> list[str]:
    out = ['<section id="changes">', "<h2>Changes by owner</h2>"]
    unchanged = 0
    for owner_id, changes in _by_owner(plan.changes).items():
        visible = [change_entry(c) for c in changes if c.action != "no-op" or c.reason]
        if not any(c["action"] != "no-op" for c in visible):
            unchanged += 1
            continue
        counts = {a: sum(1 for c in visible if c["action"] == a) for a in SYMBOLS}
        tally = f"+{counts['create'] + counts['replace']} ~{counts['update']} -{counts['delete'] + counts['replace']}"
        out.append(f'<details class="owner" data-owner="{escape(owner_id.inventory_id())}">')
        out.append(f"<summary><code>{escape(str(owner_id))}</code> {escape(tally)}</summary>")
        out += [change_html(c) for c in visible]
        out.append("</details>")
    if unchanged:
        out.append(f"<p>{unchanged} owner{'s' if unchanged != 1 else ''} without changes.</p>")
    out.append("</section>")
    return out


def change_html(change: Mapping[str, Any]) -> str:
    action = change["action"]
    head = f"{SYMBOLS[action]} {action} {address(change)}" + (f"  # {change['reason']}" if change["reason"] else "")
    lines = []
    for line in (change.get("diff") or "").splitlines():
        if line.startswith(("---", "+++")):
            continue
        kind = "hunk" if line.startswith("@@") else "add" if line[:1] == "+" else "del" if line[:1] == "-" else "ctx"
        lines.append(f'<span class="{kind}">{escape(line)}</span>')
    diff = f'<pre class="diff">{chr(10).join(lines)}</pre>' if lines else ""
    fields = f"<div>fields: <code>{escape(', '.join(change['fields']))}</code></div>" if change.get("fields") else ""
    return f'<div class="change"><div class="action {escape(action)}">{escape(head)}</div>{fields}{diff}</div>'


def _drift(plan: PlanFile) -> list[str]:
    if not plan.drift:
        return []
    return [
        '<section id="drift">',
        "<h2>Changed outside of fluxform since the last apply</h2>",
        *(change_html(change_entry(c)) for c in plan.drift),
        "</section>",
    ]


def _warnings(plan: PlanFile) -> list[str]:
    if not plan.diagnostics:
        return []
    items = "".join(f'<li class="warn">{escape(d.summary)}</li>' for d in plan.diagnostics)
    return ['<section id="warnings">', "<h2>Warnings</h2>", f"<ul>{items}</ul>", "</section>"]
