"""A revision diff as one self-contained HTML report, the twin of `plan -o html`
(views/html.py, whose page, legend, graph and change blocks it reuses): per cluster the
change touches, the owner graph, the owners not compared, and one collapsible block of
diffs per owner. Built from the diff's dict (views/revdiff.py `diff_to_dict`), whose
manifests are masked: Secret values are `***(hmac:…)` here too.

    html = render_diff_html(fleet_diff)
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from fluxform.planner.revdiff.compare import ClusterDiff, ClusterStatus, FleetDiff
from fluxform.views.graph import collapse, graph_of_diff
from fluxform.views.html import change_html, graph_section, page
from fluxform.views.plan import summary_line
from fluxform.views.revdiff import cluster_title, diff_to_dict

__all__ = ["render_diff_html"]


def render_diff_html(diff: FleetDiff) -> str:
    """The whole report, `<!DOCTYPE html>` to `</html>`."""
    data = diff_to_dict(diff)
    body = _header(data)
    for index, (cluster, facts) in enumerate(zip(diff.clusters, data["clusters"], strict=True)):
        body += _cluster(index, cluster, facts)
    base, head = data["base"]["revision"], data["head"]["revision"]
    return page(f"fluxform diff: {base} -> {head}", body)


def _header(data: Mapping[str, Any]) -> list[str]:
    base, head = data["base"], data["head"]
    facts = [
        ("base", f"{base['revision']} ({base['commit'][:12]})"),
        ("head", f"{head['revision']} ({head['commit'][:12]})"),
        ("mode", data["mode"]),
        ("files changed", str(len(data["changed_files"]))),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd><code>{escape(v)}</code></dd>" for k, v in facts)
    return [
        "<header>",
        f"<h1>fluxform diff: <code>{escape(base['revision'])}</code> → <code>{escape(head['revision'])}</code></h1>",
        f'<p class="summary" id="summary">{escape(summary_line(data["summary"]))}</p>',
        f'<dl class="facts">{rows}</dl>',
        "</header>",
    ]


def _cluster(index: int, cluster: ClusterDiff, facts: Mapping[str, Any]) -> list[str]:
    out = [
        f'<section class="cluster" data-path="{escape(cluster.path)}">',
        f"<h2>Cluster <code>{escape(cluster.path)}</code></h2>",
        f"<p>{escape(cluster_title(facts).partition(': ')[2])}</p>",
    ]
    if cluster.status is not ClusterStatus.UNCHANGED:
        out += graph_section(collapse(graph_of_diff(cluster)), section_id=f"graph-{index}", heading="h3")
    not_compared = [o for o in facts["owners"] if o["status"] == "not compared"]
    if not_compared:
        items = "".join(f"<li><code>{escape(o['id'])}</code>: {escape(o['note'])}</li>" for o in not_compared)
        out += [
            '<section class="not-planned">',
            f"<h3>Not compared ({len(not_compared)})</h3>",
            "<p>Not rendered at both revisions: what the change does to them is unknown.</p>",
            f"<ul>{items}</ul>",
            "</section>",
        ]
    inventory_ids = {str(o.id): o.id.inventory_id() for o in cluster.owners}
    for owner in facts["owners"]:
        if not owner["changes"]:
            continue
        s = owner["summary"]
        tally = f"+{s['add']} ~{s['change']} -{s['destroy']}" + (f" .{s['forget']}" if s["forget"] else "")
        out.append(f'<details class="owner" data-owner="{escape(inventory_ids[owner["id"]])}">')
        out.append(f"<summary><code>{escape(owner['id'])}</code> {escape(tally)}</summary>")
        if owner["note"]:
            out.append(f'<p class="warn">{escape(owner["note"])}</p>')
        out += [change_html(c) for c in owner["changes"]]
        out.append("</details>")
    if facts["unchanged_owners"]:
        out.append(f"<p>{facts['unchanged_owners']} other owner(s) unchanged.</p>")
    if facts["diagnostics"]:
        items = "".join(f'<li class="warn">{escape(d["summary"])}</li>' for d in facts["diagnostics"])
        out += ["<h3>Warnings</h3>", f"<ul>{items}</ul>"]
    return [*out, "</section>"]
