"""Big diffs made readable: changes made alike to many objects shown once, long diffs cut,
and the owners with the most changes named. Used by the plan and revision-diff views (text
and Markdown), on the change entries they already show (`views/plan.py` `change_entry`).

An update's *edit* is the list of leaves it changes, with their old and new values; updates
of one owner with the same edit (a label bump across 40 Deployments) form one group, shown as
`40 objects: metadata.labels.version: "1.2" -> "1.3"` and then the list of objects. The same
edit made in several owners is one group across them (`across_owners`: `40 objects in 10
owners: ...`). Values come from the masked manifests, and a masked Secret value counts by
its path only: grouping by fingerprint would tell which Secrets share a value.

    groups, rest = across_owners([entries_of_a, entries_of_b])  # alike across owners first
    for item in alike(rest[0]):  # then, per owner, a change entry or a Group of them
        ...
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxform.decrypt.mask import is_fingerprint
from fluxform.planner.fields import field_path

__all__ = [
    "DIFF_LINES",
    "GROUP_MIN",
    "LARGE_PLAN",
    "MASKED",
    "Group",
    "across_owners",
    "alike",
    "cut_diff",
    "edit_of",
    "edit_text",
    "largest_owners",
]

#: updates sharing one edit are grouped from this many objects on
GROUP_MIN = 3
#: diff lines shown per object before the rest is cut (with a count)
DIFF_LINES = 40
#: changes from which the summary names the owners with the most
LARGE_PLAN = 10
_VALUE_CHARS = 60
_ABSENT = object()
#: what an edit says of a masked Secret value, before and after: the path changed, no more
MASKED = "***"

Edit = tuple[tuple[str, str, str], ...]  # (field path, old value, new value) as JSON, whole


@dataclass(frozen=True)
class Group:
    """Updates that make the same edit; `entries` in the order they were planned."""

    edit: Edit
    entries: tuple[Mapping[str, Any], ...]

    @property
    def owners(self) -> tuple[str, ...]:
        """The owners of its objects, in order of first appearance."""
        return tuple(dict.fromkeys(str(e.get("owner", "")) for e in self.entries))


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(none)"
    if is_fingerprint(value):
        return MASKED
    return json.dumps(value, sort_keys=True, ensure_ascii=False)  # whole: edits compare by it


def _cut(text: str) -> str:
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def _leaves(before: Any, after: Any, path: list[str | int], out: list[tuple[str, str, str]]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            _leaves(before.get(key, _ABSENT), after.get(key, _ABSENT), [*path, str(key)], out)
    elif isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else _ABSENT
            new = after[index] if index < len(after) else _ABSENT
            _leaves(old, new, [*path, index], out)
    elif before != after or type(before) is not type(after):
        out.append((field_path(path), _shown(before), _shown(after)))


def edit_of(entry: Mapping[str, Any]) -> Edit:
    """What an update changes, leaf by leaf (empty when it is not an update of two manifests)."""
    before, after = entry.get("before"), entry.get("after")
    if entry.get("action") != "update" or not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return ()
    out: list[tuple[str, str, str]] = []
    _leaves(before, after, [], out)
    return tuple(out)


def edit_text(edit: Edit) -> list[str]:
    """One line per changed leaf: `path: old -> new`."""
    return [
        f"{path}: masked value changed"
        if MASKED in (old, new) and old != "(none)" != new
        else f"{path}: {_cut(old)} -> {_cut(new)}"
        for path, old, new in edit
    ]


def alike(entries: Sequence[Mapping[str, Any]], minimum: int = GROUP_MIN) -> list[Mapping[str, Any] | Group]:
    """`entries` with updates sharing one edit (at least `minimum` of them) replaced by one
    Group, where the first of them stood."""
    edits = [edit_of(e) for e in entries]
    members: dict[Edit, list[int]] = {}
    for index, edit in enumerate(edits):
        if edit:
            members.setdefault(edit, []).append(index)
    grouped = {edit: idx for edit, idx in members.items() if len(idx) >= minimum}
    out: list[Mapping[str, Any] | Group] = []
    for index, entry in enumerate(entries):
        edit = edits[index]
        if edit not in grouped:
            out.append(entry)
        elif grouped[edit][0] == index:
            out.append(Group(edit, tuple(entries[i] for i in grouped[edit])))
    return out


def across_owners(
    blocks: Sequence[Sequence[Mapping[str, Any]]], minimum: int = GROUP_MIN
) -> tuple[list[Group], list[list[Mapping[str, Any]]]]:
    """Updates making one edit in two owners or more (`blocks`: each owner's entries), at
    least `minimum` of them, as Groups in order of first appearance; and each block without
    those updates."""
    spots: dict[Edit, list[tuple[int, int]]] = {}
    for block, entries in enumerate(blocks):
        for index, entry in enumerate(entries):
            edit = edit_of(entry)
            if edit:
                spots.setdefault(edit, []).append((block, index))
    shared = {edit: at for edit, at in spots.items() if len(at) >= minimum and len({b for b, _ in at}) > 1}
    taken = {spot for at in shared.values() for spot in at}
    groups = [Group(edit, tuple(blocks[b][i] for b, i in at)) for edit, at in shared.items()]
    rest = [[e for i, e in enumerate(entries) if (b, i) not in taken] for b, entries in enumerate(blocks)]
    return groups, rest


def cut_diff(lines: Sequence[str], limit: int = DIFF_LINES) -> list[str]:
    """At most `limit` lines of one object's diff, then a line saying how many were cut."""
    if limit <= 0 or len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"... {len(lines) - limit} more diff lines cut (the whole diff: -o json)"]


def largest_owners(counts: Mapping[str, int], top: int = 3) -> str:
    """`Most changes: A (40), B (3), C (1).`; "" for a plan small enough to read whole (fewer
    than `LARGE_PLAN` changes, or all in one owner)."""
    changed = [(owner, n) for owner, n in counts.items() if n]
    if len(changed) < 2 or sum(n for _, n in changed) < LARGE_PLAN:
        return ""
    ranked = sorted(changed, key=lambda item: (-item[1], item[0]))[:top]
    more = len(changed) - len(ranked)
    text = ", ".join(f"{owner} ({n})" for owner, n in ranked)
    return f"Most changes: {text}" + (f" and {more} other owner(s)." if more else ".")
