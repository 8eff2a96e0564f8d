"""Revision diffs as text, JSON (versioned) and Markdown (a PR comment or a job summary).

Text and Markdown are built from the dict `diff_to_dict` returns, so the formats agree;
change entries have the plan's shape (views/plan.py `change_entry`), so both outputs read alike. Manifests
in a FleetDiff are already masked: nothing here sees plaintext.

JSON schema (format_version "1.0"):
    {"kind": "fluxform-diff", "format_version", "fluxform_version", "mode",
     "base": {"revision", "commit"}, "head": {"revision", "commit"}, "changed_files": [...],
     "summary": {"add", "change", "destroy", "forget", "not_planned"},
     "clusters": [{"path", "status", "rendered", "summary": {...},
                   "owners": [{"id", "kind", "namespace", "name", "status", "path", "note",
                               "unchanged": N, "summary": {...},
                               "changes": [{the plan's change fields, "fields" included}]}],
                   "diagnostics": [{"summary", "subject"}]}]}
    Owners that neither changed nor carry a note are left out of "owners". An owner not
    rendered at both revisions has status "not compared" (never "unchanged"), a cluster with
    one and no change status "partial"; `not_planned` counts such owners.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fluxform import __version__, yamlio
from fluxform.jsontext import dumps_indented
from fluxform.planner.planfile import planned_change
from fluxform.planner.revdiff.compare import ClusterDiff, ClusterStatus, FleetDiff, OwnerDiff, count_changes
from fluxform.views.changes import across_owners, largest_owners
from fluxform.views.graph import collapse, graph_of_diff, render_mermaid
from fluxform.views.plan import (
    across_lines,
    change_entry,
    entries_lines,
    markdown_across,
    markdown_entries,
    summary_line,
)

__all__ = [
    "MARKDOWN_LIMIT",
    "cluster_title",
    "diff_to_dict",
    "render_diff_json",
    "render_diff_markdown",
    "render_diff_text",
    "render_diff_yaml",
]

#: GitHub refuses comments over 65,536 characters; stay clear of it with the notes we add.
MARKDOWN_LIMIT = 60_000


def _owner_dict(owner: OwnerDiff) -> dict[str, Any]:
    return {
        "id": str(owner.id),
        "kind": owner.kind,
        "namespace": owner.id.namespace,
        "name": owner.id.name,
        "status": str(owner.status),
        "path": owner.path,
        "note": owner.note,
        "unchanged": owner.unchanged,
        "summary": count_changes(owner.changes),
        "changes": [change_entry(planned_change(c)) for c in owner.changes],
    }


def _cluster_dict(cluster: ClusterDiff) -> dict[str, Any]:
    return {
        "path": cluster.path,
        "status": str(cluster.status),
        "rendered": cluster.rendered,
        "summary": {**count_changes(list(cluster.changes())), "not_planned": len(cluster.not_compared())},
        "owners": [_owner_dict(o) for o in cluster.owners if o.changes or o.note],
        "unchanged_owners": sum(1 for o in cluster.owners if not o.changes and not o.note),
        "diagnostics": [
            {"summary": d.one_line(), "subject": str(d.subject) if d.subject else ""} for d in cluster.diagnostics
        ],
    }


def diff_to_dict(diff: FleetDiff) -> dict[str, Any]:
    return {
        "kind": "fluxform-diff",
        "format_version": diff.format_version,
        "fluxform_version": __version__,
        "mode": diff.mode,
        "base": {"revision": diff.base.name, "commit": diff.base.commit},
        "head": {"revision": diff.head.name, "commit": diff.head.commit},
        "changed_files": list(diff.changed_files),
        "summary": {**diff.counts(), "not_planned": len(diff.not_compared())},
        "clusters": [_cluster_dict(c) for c in diff.clusters],
    }


def render_diff_json(diff: FleetDiff) -> str:
    return dumps_indented(diff_to_dict(diff)) + "\n"


def render_diff_yaml(diff: FleetDiff) -> str:
    """The JSON document, as YAML."""
    return yamlio.dump(diff_to_dict(diff))


def _revisions(data: Mapping[str, Any]) -> str:
    base, head = data["base"], data["head"]
    return f"{base['revision']} ({base['commit'][:12]}) -> {head['revision']} ({head['commit'][:12]})"


def cluster_title(cluster: Mapping[str, Any]) -> str:
    """`path: N to add, ...`, or why nothing changed there."""
    status = cluster["status"]
    if not cluster["rendered"] and status == "unchanged":
        return f"{cluster['path']}: unchanged (no file it reads changed; not rendered)"
    text = summary_line(cluster["summary"]).removeprefix("Plan: ").rstrip(".")
    suffix = {"added": " (new cluster path)", "removed": " (cluster path removed)"}.get(status, "")
    return f"{cluster['path']}: {text}{suffix}" if status != "unchanged" else f"{cluster['path']}: no changes"


def render_diff_text(diff: FleetDiff | Mapping[str, Any], *, colour: bool = False) -> str:
    data = diff_to_dict(diff) if isinstance(diff, FleetDiff) else diff
    files = len(data["changed_files"])
    lines = [f"fluxform diff {_revisions(data)}", f"  mode: {data['mode']}, {files} file(s) changed"]
    for cluster in data["clusters"]:
        lines += ["", cluster_title(cluster)]
        groups, rest = across_owners([owner["changes"] for owner in cluster["owners"]])
        lines += ["  " + line for line in across_lines(groups, colour)[1:]]
        for owner, shown in zip(cluster["owners"], rest, strict=True):
            lines.append(f"  {owner['id']}  ({owner['path']})" + (f"  [{owner['status']}]" if owner["status"] else ""))
            if owner["note"]:
                lines.append(f"    {owner['note']}")
            lines += ["  " + line for line in entries_lines(shown, colour)]
            if len(shown) < len(owner["changes"]):
                across = len(owner["changes"]) - len(shown)
                lines.append(f"    ~ {across} update(s) made alike across owners, listed above")
        if cluster["unchanged_owners"]:
            lines.append(f"  ({cluster['unchanged_owners']} owner(s) unchanged)")
        lines += [f"  ! {d['summary']}" for d in cluster["diagnostics"]]
    largest = largest_owners(_owner_counts(data))
    lines += ["", *([largest] if largest else []), summary_line(data["summary"])]
    return "\n".join(lines) + "\n"


def _owner_counts(data: Mapping[str, Any], quote: str = "") -> dict[str, int]:
    """Changes per owner (named with its cluster path when the diff covers several)."""
    several = len(data["clusters"]) > 1
    counts: dict[str, int] = {}
    for cluster in data["clusters"]:
        for owner in cluster["owners"]:
            name = f"{cluster['path']}: {owner['id']}" if several else owner["id"]
            counts[f"{quote}{name}{quote}"] = sum(1 for c in owner["changes"] if c["action"] != "no-op")
    return counts


# -- markdown ------------------------------------------------------------------------------------


def _table(cluster: Mapping[str, Any]) -> list[str]:
    lines = [f"#### `{cluster['path']}`", "", cluster_title(cluster).partition(": ")[2], ""]
    if not cluster["owners"]:
        return lines
    lines += ["| Owner | Status | + add | ~ change | - destroy | . forget |", "|---|---|---:|---:|---:|---:|"]
    for owner in cluster["owners"]:
        s = owner["summary"]
        lines.append(
            f"| `{owner['id']}` | {owner['status']} | {s['add']} | {s['change']} | {s['destroy']} | {s['forget']} |"
        )
    if cluster["unchanged_owners"]:
        lines.append(f"\n{cluster['unchanged_owners']} other owner(s) unchanged.")
    return [*lines, ""]


def _details(cluster: Mapping[str, Any], owner: Mapping[str, Any], shown: list[Mapping[str, Any]]) -> str:
    """An owner's block; `shown`: its changes but those in a group made alike across owners."""
    body = [f"<details><summary><code>{cluster['path']}</code> <code>{owner['id']}</code>: "]
    body[0] += f"{len(owner['changes'])} change(s)</summary>\n\n```diff"
    if owner["note"]:
        body.append(f"# {owner['note']}")
    body += markdown_entries(shown)
    if len(shown) < len(owner["changes"]):
        body.append(f"~ {len(owner['changes']) - len(shown)} update(s) made alike across owners, listed above")
    return "\n".join([*body, "```", "</details>", ""])


def _graphs(diff: FleetDiff) -> list[str]:
    """A Mermaid owner graph per cluster the change touches, as `plan -o markdown` opens with
    (the path above each when there are several clusters)."""
    touched = [c for c in diff.clusters if c.status is not ClusterStatus.UNCHANGED]
    blocks = []
    for cluster in touched:
        title = [f"**`{cluster.path}`**", ""] if len(diff.clusters) > 1 else []
        mermaid = render_mermaid(collapse(graph_of_diff(cluster))).rstrip("\n")
        blocks.append("\n".join([*title, "```mermaid", mermaid, "```", ""]))
    return blocks


def render_diff_markdown(diff: FleetDiff | Mapping[str, Any], *, limit: int = MARKDOWN_LIMIT) -> str:
    """The owner graph of each changed cluster and the summary tables first, then one
    collapsible block per owner while the size budget lasts; what does not fit is named in
    a closing note (graphs and tables are cut the same way)."""
    data = diff_to_dict(diff) if isinstance(diff, FleetDiff) else diff
    out = [
        f"### fluxform diff: `{data['base']['revision']}` → `{data['head']['revision']}`",
        "",
        f"**{summary_line(data['summary'])}**",
        "",
        *([largest, ""] if (largest := largest_owners(_owner_counts(data, quote="`"))) else []),
        f"base `{data['base']['commit'][:12]}`, head `{data['head']['commit'][:12]}`, "
        f"{len(data['changed_files'])} file(s) changed, {data['mode']}.",
        "",
    ]
    budget = limit - sum(len(s) + 1 for s in out) - 400  # room for the closing note
    cut_graphs = 0
    for block in _graphs(diff) if isinstance(diff, FleetDiff) else []:
        if len(block) + 1 > budget // 2:  # half the budget at most: the tables come next
            cut_graphs += 1
            continue
        out.append(block)
        budget -= len(block) + 1
    cut_tables: list[str] = []
    for cluster in data["clusters"]:
        block = "\n".join(_table(cluster))
        if len(block) + 1 > budget:
            cut_tables.append(cluster["path"])
            continue
        out.append(block)
        budget -= len(block) + 1
    cut_owners = 0
    cut_changes = 0
    for cluster in data["clusters"]:
        groups, rest = across_owners([owner["changes"] for owner in cluster["owners"]])
        across = "\n".join(markdown_across(groups)).replace("Made alike", f"`{cluster['path']}`: made alike", 1)
        if groups and not cut_tables and len(across) + 1 <= budget:
            out.append(across.lstrip("\n") + "\n")
            budget -= len(across) + 1
        elif groups:
            rest = [owner["changes"] for owner in cluster["owners"]]  # not shown: each owner shows its own
        for owner, shown in zip(cluster["owners"], rest, strict=True):
            if not owner["changes"] and not owner["note"]:
                continue
            block = _details(cluster, owner, shown)
            if cut_tables or len(block) + 1 > budget:  # summaries first: no diff while one is missing
                cut_owners += 1
                cut_changes += len(owner["changes"])
                continue
            out.append(block)
            budget -= len(block) + 1
    out += _cut_note(cut_tables, cut_owners, cut_changes, cut_graphs)
    return "\n".join(out).rstrip("\n") + "\n"


def _cut_note(tables: list[str], owners: int, changes: int, graphs: int = 0) -> list[str]:
    if not tables and not owners and not graphs:
        return []
    parts = [f"the owner graph of {graphs} cluster path(s)"] if graphs else []
    if tables:
        shown = ", ".join(f"`{t}`" for t in tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        parts.append(f"the summary of {len(tables)} cluster path(s) ({shown})")
    if owners:
        parts.append(f"the diffs of {owners} owner(s) ({changes} change(s))")
    return ["", f"_Not shown, to stay under the comment size limit: {' and '.join(parts)}. "
            "Run `fluxform diff` or see the job log for everything._"]  # fmt: skip
