"""Plans as text (Terraform-style), JSON (documented, versioned) and Markdown (PR comments).

Text and Markdown are built from the dict `plan_to_dict` returns, so the three formats
always agree. Manifests in a Plan are already masked; nothing here sees plaintext.

JSON schema (format_version "1.0"):
    {"format_version", "fluxform_version", "target", "mode",
     "source": {"revision"}, "state": {"lineage", "serial"}, "settings": {...},
     "summary": {"add", "change", "destroy", "forget", "unchanged"},
     "owners": [{"id", "inventory_id", "kind", "namespace", "name", "status", "source", "path",
                 "depends_on": [ids], "parent", "objects": N}],
     "changes": [{"id", "kind", "namespace", "name", "api_version", "owner", "owner_id", "action",
                  "reason", "before", "after", "diff", "fields"}],  # masked; diff + changed field paths for updates
     "drift": [same shape], "diagnostics": [{"summary", "subject"}]}

A live plan (`mode` "live") adds `settings.cluster {context, server}`, `settings.field_manager`,
`settings.field_managers {Kustomization, HelmRelease, Root}`, `settings.comparison`, and per
change `desired` (the masked manifest to apply), `live_resource_version` ("" when absent:
apply refuses a plan whose objects moved since) and `adopted`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.fields import changed_fields
from fluxform.planner.plan import Action, Change, Plan

__all__ = [
    "SYMBOLS",
    "address",
    "change_dict",
    "change_lines",
    "plan_to_dict",
    "render_json",
    "render_markdown",
    "render_text",
    "summary_line",
]

SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "delete": "-",
    "forget": ".",
    "no-op": " ",
}
_COLOURS = {"+": "\x1b[32m", "~": "\x1b[33m", "-/+": "\x1b[35m", "-": "\x1b[31m", ".": "\x1b[36m"}
_RESET = "\x1b[0m"
_DIFFED = (Action.UPDATE, Action.REPLACE)
_MAX_MARKDOWN_DIFF = 20_000


def change_dict(change: Change) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": change.id.inventory_id(),
        "kind": change.id.kind,
        "namespace": change.id.namespace,
        "name": change.id.name,
        "api_version": change.api_version,
        "owner": str(change.owner),
        "owner_id": change.owner.inventory_id(),
        "action": str(change.action),
        "reason": change.reason,
        "before": change.before,
        "after": change.after,
        "diff": change.diff if change.action in (Action.UPDATE, Action.REPLACE) else "",
        "fields": changed_fields(change.before, change.after) if change.action in _DIFFED else [],
    }
    return out


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": plan.format_version,
        "fluxform_version": plan.fluxform_version,
        "target": plan.target,
        "mode": plan.mode,
        "source": {"revision": plan.source_revision},
        "state": {"lineage": plan.state_lineage, "serial": plan.state_serial},
        "settings": dict(plan.settings),
        "summary": plan.counts(),
        "owners": [
            {
                "id": str(o.id),
                "inventory_id": o.id.inventory_id(),
                "kind": o.kind,
                "namespace": o.id.namespace,
                "name": o.id.name,
                "status": str(o.status),
                "source": o.source,
                "path": o.path,
                "depends_on": [str(d) for d in o.depends_on],
                "parent": str(o.parent) if o.parent else "",
                "objects": len(o.objects),
            }
            for o in plan.owners
        ],
        "changes": [change_dict(c) for c in plan.changes],
        "drift": [change_dict(c) for c in plan.drift],
        "diagnostics": [
            {"summary": d.one_line(), "subject": str(d.subject) if d.subject else ""} for d in plan.diagnostics
        ],
    }


def render_json(plan: Plan | Mapping[str, Any]) -> str:
    """The documented JSON; accepts a Plan or an already built plan dict (live plans add keys)."""
    data = plan_to_dict(plan) if isinstance(plan, Plan) else plan
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def summary_line(summary: Mapping[str, int]) -> str:
    line = f"Plan: {summary['add']} to add, {summary['change']} to change, {summary['destroy']} to destroy"
    if summary.get("forget"):
        line += f", {summary['forget']} to forget"
    return line + "."


def address(change: Mapping[str, Any]) -> str:
    return str(ObjectId(change["namespace"], change["name"], "", change["kind"]))


def _header(data: Mapping[str, Any]) -> list[str]:
    settings = data["settings"]
    state = data["state"]
    state_text = f"lineage {state['lineage']}, serial {state['serial']}" if state["lineage"] else "none (empty)"
    strict = "strict" if settings.get("strict_substitute", True) else "non-strict"
    lines = [
        f"fluxform plan of {data['target']} ({data['mode']}: no cluster was read)"
        if data["mode"] == "offline"
        else f"fluxform plan of {data['target']} (against the live cluster)",
        f"  source:       {data['source']['revision']}",
        f"  state:        {state_text}",
        f"  substitution: {strict}",
    ]
    cluster = settings.get("cluster")
    if data["mode"] == "live" and isinstance(cluster, Mapping):
        lines += [
            f"  cluster:      {cluster.get('context') or '(in-cluster)'} ({cluster.get('server', '')})",
            f"  apply as:     {settings.get('field_manager', '')}",
            f"  comparison:   {settings.get('comparison', '')}",
        ]
    return lines


def render_text(plan: Plan | Mapping[str, Any], *, colour: bool = False) -> str:
    """Terraform-style text; accepts a Plan or the dict of a saved plan file."""
    data = plan_to_dict(plan) if isinstance(plan, Plan) else plan
    lines = _header(data)
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    for change in data["changes"]:
        by_owner.setdefault(change["owner"], []).append(change)
    listed = set()
    for owner in data["owners"]:
        listed.add(owner["id"])
        lines += _owner_block(owner, by_owner.get(owner["id"], []), colour)
    for owner_id, changes in by_owner.items():
        if owner_id not in listed:
            lines += _owner_block({"id": owner_id, "status": "removed", "source": "", "path": ""}, changes, colour)
    if data["drift"]:
        lines += ["", "Objects changed outside of fluxform since the last apply:"]
        for change in data["drift"]:
            lines += change_lines(change, colour)
    if data["diagnostics"]:
        lines += ["", "Warnings:"]
        lines += [f"  ! {d['summary']}" for d in data["diagnostics"]]
    lines += ["", summary_line(data["summary"])]
    return "\n".join(lines) + "\n"


def _owner_block(owner: Mapping[str, Any], changes: list[Mapping[str, Any]], colour: bool) -> list[str]:
    status = owner["status"]
    title = f"{owner['id']}"
    if owner.get("source"):
        title += f"  ({owner['source']}, {owner['path']})"
    lines = ["", title]
    if status == "suspended":
        lines.append("  skipped: suspended (Flux does not reconcile it; its objects are left alone)")
    elif status == "removed":
        lines.append("  no longer part of the fleet")
    elif status == "external":
        lines.append("  not rendered (see the warnings); its objects are left as they are")
    unchanged = sum(1 for c in changes if c["action"] == "no-op")
    for change in changes:
        # a no-op with a reason (skipped by a Flux policy, adopted) is worth a line
        if change["action"] != "no-op" or change["reason"]:
            lines += change_lines(change, colour)
    if unchanged:
        lines.append(f"  ({unchanged} unchanged)")
    return lines


def change_lines(change: Mapping[str, Any], colour: bool) -> list[str]:
    symbol = SYMBOLS[change["action"]]
    text = f"  {symbol} {change['action']:<7} {address(change)}"
    if change["reason"]:
        text += f"  # {change['reason']}"
    if colour:
        text = _COLOURS.get(symbol, "") + text + _RESET
    lines = [text]
    if change.get("fields"):
        lines.append("      fields: " + ", ".join(change["fields"]))
    for diff_line in (change.get("diff") or "").splitlines():
        if diff_line.startswith(("---", "+++")):
            continue
        out = "      " + diff_line
        if colour and diff_line[:1] in "+-":
            out = _COLOURS["+" if diff_line[0] == "+" else "-"] + out + _RESET
        lines.append(out)
    return lines


def render_markdown(plan: Plan | Mapping[str, Any]) -> str:
    data = plan_to_dict(plan) if isinstance(plan, Plan) else plan
    summary = data["summary"]
    lines = [
        f"### fluxform plan: `{data['target']}`",
        "",
        f"**{summary_line(summary)}**",
        "",
        "| Owner | Status | + add | ~ change | - destroy | unchanged |",
        "|---|---|---:|---:|---:|---:|",
    ]
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    for change in data["changes"]:
        by_owner.setdefault(change["owner"], []).append(change)
    for owner in data["owners"]:
        counts = {a: sum(1 for c in by_owner.get(owner["id"], []) if c["action"] == a) for a in SYMBOLS}
        lines.append(
            f"| `{owner['id']}` | {owner['status']} | {counts['create'] + counts['replace']} | {counts['update']} "
            f"| {counts['delete'] + counts['replace']} | {counts['no-op']} |"
        )
    budget = _MAX_MARKDOWN_DIFF
    cut = 0
    for owner_id, changes in by_owner.items():
        visible = [c for c in changes if c["action"] != "no-op"]
        if not visible:
            continue
        body = ["", f"<details><summary><code>{owner_id}</code>: {len(visible)} change(s)</summary>", "", "```diff"]
        for change in visible:
            body.append(
                f"{SYMBOLS[change['action']]} {change['action']} {address(change)}"
                + (f"  # {change['reason']}" if change["reason"] else "")
            )
            diff = "\n".join(ln for ln in (change.get("diff") or "").splitlines() if not ln.startswith(("---", "+++")))
            if diff:
                body.append(diff)
        body += ["```", "</details>"]
        block = "\n".join(body)
        if len(block) > budget:
            cut += len(visible)
            continue
        budget -= len(block)
        lines.append(block)
    if cut:
        lines += ["", f"_{cut} change(s) not shown: the comment size limit was reached; see the full plan._"]
    if data["diagnostics"]:
        lines += ["", "<details><summary>Warnings</summary>", ""]
        lines += [f"- {d['summary']}" for d in data["diagnostics"]]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
