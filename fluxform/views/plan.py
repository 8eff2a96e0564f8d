"""Plans as text (Terraform-style), JSON and Markdown (PR comments), all from a `PlanFile`.

The JSON is the plan file's own serialisation (`planner/planfile.py`); text and Markdown
show the same records, each change through one entry (`change_entry`), so the formats
agree. Everything in a PlanFile is masked; nothing here sees plaintext.

    text = render_text(plan_file_from(plan))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fluxform import yamlio
from fluxform.objects import ObjectId
from fluxform.planner.model import OwnerStatus
from fluxform.planner.plan import CONTAINER_KINDS
from fluxform.planner.planfile import NotPlanned, PlanFile, PlannedChange, PlanOwner, plan_file_json
from fluxform.planner.reversible import irreversible_change
from fluxform.views.changes import Group, across_owners, alike, cut_diff, edit_text, largest_owners
from fluxform.views.graph import collapse, graph_of_plan, render_mermaid

__all__ = [
    "ACROSS_TITLE",
    "DESTROYS_TITLE",
    "IRREVERSIBLE_TITLE",
    "SYMBOLS",
    "across_lines",
    "address",
    "change_entry",
    "change_lines",
    "destroyed_containers",
    "entries_lines",
    "group_lines",
    "irreversible_changes",
    "markdown_across",
    "markdown_entries",
    "owner_counts",
    "render_json",
    "render_markdown",
    "render_text",
    "render_yaml",
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
_MAX_MARKDOWN_DIFF = 20_000
FIELDS_SHOWN = 20  # changed fields listed per object in text, then "and N more"


def change_entry(change: PlannedChange) -> dict[str, Any]:
    """A change as views show it (and as a revision diff's JSON lists it): identity, action,
    reason, masked manifests, diff and changed fields."""
    return {
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
        "diff": change.diff,
        "fields": list(change.fields),
    }


def render_json(plan_file: PlanFile) -> str:
    """The plan file itself (what `plan --out` writes)."""
    return plan_file_json(plan_file)


def render_yaml(plan_file: PlanFile) -> str:
    """The plan file's JSON, as YAML (same fields, same order of keys)."""
    return yamlio.dump(json.loads(plan_file_json(plan_file)))


def summary_line(summary: Mapping[str, int]) -> str:
    line = f"Plan: {summary['add']} to add, {summary['change']} to change, {summary['destroy']} to destroy"
    if summary.get("forget"):
        line += f", {summary['forget']} to forget"
    not_planned = summary.get("not_planned", 0)
    if not_planned:
        line += f"; {not_planned} owner{'s' if not_planned != 1 else ''} not planned"
    return line + "."


def address(change: Mapping[str, Any]) -> str:
    return str(ObjectId(change["namespace"], change["name"], "", change["kind"]))


def _header(plan: PlanFile) -> list[str]:
    state = plan.state
    state_text = f"lineage {state.lineage}, serial {state.serial}" if state.lineage else "none (empty)"
    live = plan.live
    lines = [
        f"fluxform plan of {plan.target} (offline: no cluster was read)"
        if live is None
        else f"fluxform plan of {plan.target} (against the live cluster)",
        f"  source:       {plan.source.revision}",
        f"  state:        {state_text}",
        f"  substitution: {'strict' if plan.settings.strict_substitute else 'non-strict'}",
    ]
    if live is not None:
        lines += [
            f"  cluster:      {live.context or '(in-cluster)'} ({live.server})",
            f"  apply as:     {live.field_managers.describe()}",
            f"  comparison:   {live.comparison}",
        ]
    return lines


DESTROYS_TITLE = (
    "Deleting these deletes everything in them (apply asks, or needs --allow-destroy-namespaces with --auto-approve)"
)


#: the title above changes no rollback can undo (planner/reversible.py)
IRREVERSIBLE_TITLE = "Not reversible (an apply's rollback cannot undo these)"


def irreversible_changes(plan: PlanFile) -> list[tuple[PlannedChange, str]]:
    """Changes no rollback undoes (a deleted claim's volume, a Job that ran...), with why."""
    found = [(c, irreversible_change(c.id, str(c.action))) for c in plan.changes]
    return [(c, why) for c, why in found if why]


def destroyed_containers(plan: PlanFile) -> list[PlannedChange]:
    """Namespaces and CRDs the plan deletes: each takes its contents with it."""
    return [c for c in plan.changes if c.action == "delete" and (c.id.group, c.id.kind) in CONTAINER_KINDS]


def _by_owner(changes: tuple[PlannedChange, ...]) -> dict[ObjectId, list[PlannedChange]]:
    grouped: dict[ObjectId, list[PlannedChange]] = {}
    for change in changes:
        grouped.setdefault(change.owner, []).append(change)
    return grouped


ACROSS_TITLE = "Made alike across owners (each owner's block lists the rest of its changes):"


def _owner_entries(plan: PlanFile) -> list[tuple[ObjectId, list[PlannedChange], list[dict[str, Any]]]]:
    """Each owner with changes, in plan order (then owners the fleet no longer has): its
    changes and the entries shown for them (no-ops only with a reason)."""
    by_owner = _by_owner(plan.changes)
    order = [o.id for o in plan.owners] + list(by_owner)
    out = []
    for owner_id in dict.fromkeys(order):
        changes = by_owner.get(owner_id, [])
        out.append((owner_id, changes, [change_entry(c) for c in changes if c.action != "no-op" or c.reason]))
    return out


def render_text(plan: PlanFile, *, colour: bool = False) -> str:
    """Terraform-style text: a header, updates made alike across owners, one block per owner
    in order, drift, warnings, summary."""
    lines = _header(plan)
    owners = _owner_entries(plan)
    groups, rest = across_owners([entries for _, _, entries in owners])
    lines += across_lines(groups, colour)
    reasons = {n.owner: n for n in plan.not_planned}
    planned = {o.id: o for o in plan.owners}
    for (owner_id, changes, entries), shown in zip(owners, rest, strict=True):
        owner = planned.get(owner_id)
        if owner is not None:
            lines += _owner_block(owner, reasons.get(owner_id))
        else:  # an owner the fleet no longer has
            lines += ["", str(owner_id), "  no longer part of the fleet"]
        lines += _change_block(changes, shown, len(entries) - len(shown), colour)
    destroys = destroyed_containers(plan)
    if destroys:
        lines += ["", DESTROYS_TITLE + ":"]
        lines += [f"  - {c.id}  ({c.owner})" for c in destroys]
    irreversible = irreversible_changes(plan)
    if irreversible:
        lines += ["", IRREVERSIBLE_TITLE + ":"]
        lines += [f"  ! {c.action} {c.id}: {why}" for c, why in irreversible]
    if plan.drift:
        lines += ["", "Objects changed outside of fluxform since the last apply:"]
        for change in plan.drift:
            lines += change_lines(change_entry(change), colour)
    if plan.diagnostics:
        lines += ["", "Warnings:"]
        lines += [f"  ! {d.summary}" for d in plan.diagnostics]
    largest = largest_owners(owner_counts(plan.changes))
    lines += ["", *([largest] if largest else []), summary_line(plan.counts())]
    return "\n".join(lines) + "\n"


def _owner_block(owner: PlanOwner, not_planned: NotPlanned | None) -> list[str]:
    title = str(owner.id)
    if owner.source:
        title += f"  ({owner.source}, {owner.path})"
    lines = ["", title]
    if owner.status is OwnerStatus.SUSPENDED:
        lines.append("  skipped: suspended (Flux does not reconcile it; its objects are left alone)")
    elif not_planned is not None:
        where = f" ({not_planned.file})" if not_planned.file else ""
        lines.append(f"  not planned{where}: {not_planned.reason}; its objects are left as they are")
    return lines


def _change_block(
    changes: list[PlannedChange], entries: Sequence[Mapping[str, Any]], across: int, colour: bool
) -> list[str]:
    """An owner's entries (a no-op with a reason, skipped by a Flux policy or adopted, is
    worth a line), the updates it shares with other owners counted, its no-ops counted."""
    lines = entries_lines(entries, colour)
    if across:
        lines.append(f"  ~ {across} update(s) made alike across owners, listed above")
    unchanged = sum(1 for c in changes if c.action == "no-op")
    if unchanged:
        lines.append(f"  ({unchanged} unchanged)")
    return lines


def across_lines(groups: Sequence[Group], colour: bool, title: str = ACROSS_TITLE) -> list[str]:
    """The updates made alike in several owners, each group once (views/changes.py)."""
    lines = ["", title] if groups else []
    for group in groups:
        lines += group_lines(group, colour)
    return lines


def entries_lines(entries: Sequence[Mapping[str, Any]], colour: bool) -> list[str]:
    """Change entries as text, updates making the same edit to several objects shown once
    (views/changes.py), each object's diff cut past `DIFF_LINES`."""
    lines: list[str] = []
    for item in alike(entries):
        lines += group_lines(item, colour) if isinstance(item, Group) else change_lines(item, colour)
    return lines


def _group_head(group: Group) -> str:
    """`40 objects: edit`, `40 objects in 10 owners: edit`, or `..., each:` for several leaves."""
    edit = edit_text(group.edit)
    owners = len(group.owners)
    head = f"{len(group.entries)} objects" + (f" in {owners} owners" if owners > 1 else "")
    return head + (f": {edit[0]}" if len(edit) == 1 else ", each:")


def _member(entry: Mapping[str, Any], group: Group) -> str:
    """A group's object; with its owner when the group spans several."""
    text = address(entry) + (f"  ({entry.get('owner', '')})" if len(group.owners) > 1 else "")
    return text + (f"  # {entry['reason']}" if entry.get("reason") else "")


def group_lines(group: Group, colour: bool) -> list[str]:
    """`~ update  40 objects: path: old -> new`, then the objects, one per line."""
    edit = edit_text(group.edit)
    head = f"  {SYMBOLS['update']} update  {_group_head(group)}"
    if colour:
        head = _COLOURS[SYMBOLS["update"]] + head + _RESET
    lines = [head]
    if len(edit) > 1:
        lines += ["      " + line for line in cut_diff(edit)]
    lines += [f"      {_member(entry, group)}" for entry in group.entries]
    return lines


def _markdown_group(group: Group) -> list[str]:
    edit = edit_text(group.edit)
    lines = [f"~ update {_group_head(group)}"]
    lines += ["    " + line for line in cut_diff(edit)] if len(edit) > 1 else []
    return lines + [f"    {_member(entry, group)}" for entry in group.entries]


def markdown_across(groups: Sequence[Group]) -> list[str]:
    """The updates made alike in several owners as one collapsible ```diff block."""
    if not groups:
        return []
    count = sum(len(g.entries) for g in groups)
    lines = ["", f"<details><summary>Made alike across owners: {count} update(s)</summary>", "", "```diff"]
    for group in groups:
        lines += _markdown_group(group)
    return [*lines, "```", "</details>"]


def markdown_entries(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Change entries as the lines of a ```diff block: grouped and cut as in text."""
    lines: list[str] = []
    for item in alike(entries):
        if isinstance(item, Group):
            lines += _markdown_group(item)
            continue
        head = f"{SYMBOLS[item['action']]} {item['action']} {address(item)}"
        lines.append(head + (f"  # {item['reason']}" if item["reason"] else ""))
        lines += cut_diff([ln for ln in (item.get("diff") or "").splitlines() if not ln.startswith(("---", "+++"))])
    return lines


def owner_counts(changes: Sequence[PlannedChange]) -> dict[str, int]:
    """Changes (not no-ops) per owner, for `largest_owners`."""
    counts: dict[str, int] = {}
    for change in changes:
        if change.action != "no-op":
            counts[str(change.owner)] = counts.get(str(change.owner), 0) + 1
    return counts


def change_lines(change: Mapping[str, Any], colour: bool) -> list[str]:
    """One change entry (`change_entry`) as text: the action line, changed fields, the diff."""
    symbol = SYMBOLS[change["action"]]
    text = f"  {symbol} {change['action']:<7} {address(change)}"
    if change["reason"]:
        text += f"  # {change['reason']}"
    if colour:
        text = _COLOURS.get(symbol, "") + text + _RESET
    lines = [text]
    fields = list(change.get("fields") or ())
    if fields:
        more = f" and {len(fields) - FIELDS_SHOWN} more" if len(fields) > FIELDS_SHOWN else ""
        lines.append("      fields: " + ", ".join(fields[:FIELDS_SHOWN]) + more)
    diff_lines = [ln for ln in (change.get("diff") or "").splitlines() if not ln.startswith(("---", "+++"))]
    for diff_line in cut_diff(diff_lines):
        out = "      " + diff_line
        if colour and diff_line[:1] in "+-":
            out = _COLOURS["+" if diff_line[0] == "+" else "-"] + out + _RESET
        lines.append(out)
    return lines


def render_markdown(plan: PlanFile) -> str:
    """A PR comment: summary, the owner graph (Mermaid, which GitHub renders), owners not
    planned, one table row per owner, changes per owner while the size budget lasts, warnings."""
    lines = [f"### fluxform plan: `{plan.target}`", "", f"**{summary_line(plan.counts())}**", ""]
    lines += ["```mermaid", render_mermaid(collapse(graph_of_plan(plan))).rstrip("\n"), "```", ""]
    largest = largest_owners({f"`{owner}`": n for owner, n in owner_counts(plan.changes).items()})
    lines += [largest, ""] if largest else []
    if plan.not_planned:  # above the diffs, never collapsed: a partial plan must read as one
        lines += ["**Not planned** (their objects are left as they are; what would change for them is unknown):", ""]
        lines += [f"- `{n.owner}`" + (f" (`{n.file}`)" if n.file else "") + f": {n.reason}" for n in plan.not_planned]
        lines += [""]
    destroys = destroyed_containers(plan)
    if destroys:
        lines += [f"**{DESTROYS_TITLE}:**", ""]
        lines += [f"- `{c.id}` (`{c.owner}`)" for c in destroys]
        lines += [""]
    irreversible = irreversible_changes(plan)
    if irreversible:
        lines += [f"**{IRREVERSIBLE_TITLE}:**", ""]
        lines += [f"- {c.action} `{c.id}`: {why}" for c, why in irreversible]
        lines += [""]
    lines += _markdown_table(plan)
    lines += _markdown_changes(plan)
    if plan.diagnostics:
        lines += ["", "<details><summary>Warnings</summary>", ""]
        lines += [f"- {d.summary}" for d in plan.diagnostics]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _markdown_table(plan: PlanFile) -> list[str]:
    lines = ["| Owner | Status | + add | ~ change | - destroy | unchanged |", "|---|---|---:|---:|---:|---:|"]
    by_owner = _by_owner(plan.changes)
    for owner in plan.owners:
        changes = by_owner.get(owner.id, [])
        counts = {a: sum(1 for c in changes if c.action == a) for a in SYMBOLS}
        lines.append(
            f"| `{owner.id}` | {owner.status} | {counts['create'] + counts['replace']} | {counts['update']} "
            f"| {counts['delete'] + counts['replace']} | {counts['no-op']} |"
        )
    return lines


def _markdown_changes(plan: PlanFile) -> list[str]:
    owners = [
        (o, [change_entry(c) for c in changes if c.action != "no-op"]) for o, changes in _by_owner(plan.changes).items()
    ]
    groups, rest = across_owners([visible for _, visible in owners])
    lines = markdown_across(groups)
    budget = _MAX_MARKDOWN_DIFF - len("\n".join(lines))
    cut = 0
    for (owner_id, visible), shown in zip(owners, rest, strict=True):
        if not visible:
            continue
        body = ["", f"<details><summary><code>{owner_id}</code>: {len(visible)} change(s)</summary>", "", "```diff"]
        body += markdown_entries(shown)
        if len(shown) < len(visible):
            body.append(f"~ {len(visible) - len(shown)} update(s) made alike across owners, listed above")
        body += ["```", "</details>"]
        block = "\n".join(body)
        if len(block) > budget:
            cut += len(visible)
            continue
        budget -= len(block)
        lines.append(block)
    if cut:
        lines += ["", f"_{cut} change(s) not shown: the comment size limit was reached; see the full plan._"]
    return lines
