"""views/changes.py: an update's edit leaf by leaf, grouping alike updates, cutting long
diffs, naming the owners with the most changes."""

from __future__ import annotations

from typing import Any

from fluxform.views.changes import Group, across_owners, alike, cut_diff, edit_of, edit_text, largest_owners


def _update(name: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {"action": "update", "name": name, "before": before, "after": after}


def _labelled(version: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"version": version}}, **extra}


def test_an_edit_lists_changed_added_and_removed_leaves() -> None:
    before = {"spec": {"replicas": 1, "ports": [80], "old": "x"}, "metadata": {"labels": {"a": "1"}}}
    after = {"spec": {"replicas": "1", "ports": [80, 443]}, "metadata": {"labels": {"a": "1", "b": "2"}}}
    assert edit_text(edit_of(_update("x", before, after))) == [
        'metadata.labels.b: (none) -> "2"',
        'spec.old: "x" -> (none)',
        "spec.ports[1]: (none) -> 443",
        'spec.replicas: 1 -> "1"',  # a type change is a change, as the API server sees it
    ]


def test_only_updates_have_edits() -> None:
    assert edit_of({"action": "create", "before": None, "after": {"a": 1}}) == ()
    assert edit_of({"action": "delete", "before": {"a": 1}, "after": None}) == ()


def test_updates_making_the_same_edit_are_grouped_where_the_first_stood() -> None:
    entries = [
        _update("a", _labelled("1.2"), _labelled("1.3")),
        {"action": "create", "name": "new", "before": None, "after": {}},
        *[_update(f"n{i}", _labelled("1.2"), _labelled("1.3")) for i in range(3)],
        _update("other", _labelled("1.2", data={"k": "v"}), _labelled("1.3", data={"k": "w"})),
    ]
    items = alike(entries)
    assert isinstance(items[0], Group) and [e["name"] for e in items[0].entries] == ["a", "n0", "n1", "n2"]
    assert edit_text(items[0].edit) == ['metadata.labels.version: "1.2" -> "1.3"']
    assert [i["name"] for i in items[1:] if not isinstance(i, Group)] == ["new", "other"]


def test_too_few_alike_updates_stay_apart() -> None:
    entries = [_update(n, _labelled("1"), _labelled("2")) for n in ("a", "b")]
    assert alike(entries) == entries


def test_long_diffs_are_cut_with_a_count() -> None:
    lines = [f"+line {i}" for i in range(100)]
    cut = cut_diff(lines, 40)
    assert cut[:40] == lines[:40] and cut[40] == "... 60 more diff lines cut (the whole diff: -o json)"
    assert cut_diff(lines[:40], 40) == lines[:40]


def test_the_largest_owners_are_named_in_big_plans_only() -> None:
    assert (
        largest_owners({"A": 40, "B": 3, "C": 1, "D": 1}) == "Most changes: A (40), B (3), C (1) and 1 other owner(s)."
    )
    assert largest_owners({"A": 4, "B": 3}) == ""  # small enough to read whole
    assert largest_owners({"A": 40}) == ""  # one owner: nothing to rank


def _owned(owner: str, name: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {**_update(name, before, after), "owner": owner}


def test_one_edit_in_several_owners_is_one_group_across_them() -> None:
    blocks = [
        [_owned(f"ks/{o}", f"cm-{o}-{i}", _labelled("1.2"), _labelled("1.3")) for i in range(4)] for o in range(10)
    ]
    blocks[0].append(_owned("ks/0", "own", _labelled("1.2"), _labelled("9")))
    groups, rest = across_owners(blocks)
    (group,) = groups
    assert len(group.entries) == 40 and group.owners == tuple(f"ks/{o}" for o in range(10))
    assert edit_text(group.edit) == ['metadata.labels.version: "1.2" -> "1.3"']
    assert [[e["name"] for e in block] for block in rest] == [["own"], *([[]] * 9)]


def test_an_edit_in_one_owner_only_is_left_to_that_owner() -> None:
    blocks = [[_owned("ks/a", f"cm-{i}", _labelled("1"), _labelled("2")) for i in range(5)], []]
    groups, rest = across_owners(blocks)
    assert groups == [] and rest == blocks


def test_masked_values_group_by_path_never_by_value() -> None:
    """Secrets whose values changed to different values, or to the same one, read alike:
    a group by fingerprint would tell which Secrets share a value."""
    fingerprints = ["***(hmac:0123456789ab)", "***(hmac:ba9876543210)", "***(hmac:aaaaaaaaaaaa)"]

    def secret(value: str) -> dict[str, Any]:
        return {"kind": "Secret", "data": {"password": value}}

    blocks = [[_owned(f"ks/{o}", f"s-{o}", secret(fingerprints[2]), secret(fingerprints[o % 2]))] for o in range(6)]
    groups, _ = across_owners(blocks)
    (group,) = groups
    assert len(group.entries) == 6
    assert edit_text(group.edit) == ["data.password: masked value changed"]
    assert not any("hmac" in line for line in edit_text(group.edit))
    # a value added or removed says so, still without a fingerprint
    added = edit_text(edit_of(_update("s", {"kind": "Secret", "data": {}}, secret(fingerprints[0]))))
    assert added == ["data.password: (none) -> ***"]


def test_alike_values_cut_for_display_are_compared_whole() -> None:
    long = "x" * 100
    entries = [_update(f"n{i}", {"v": long}, {"v": long + str(i)}) for i in range(3)]
    assert alike(entries) == entries
