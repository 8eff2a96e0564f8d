"""State model: identity, digests, revisions and forgetting objects."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace

import pytest

from fluxform.objects import ObjectId
from fluxform.state.model import (
    DEFAULT_HISTORY_LIMIT,
    StateFile,
    canonical_digest,
    new_state,
    next_revision,
    without_ids,
)
from tests.support.states import deployment, masked_secret, owner, small_state, state_object


def test_new_state_has_fresh_lineage_and_mask_key() -> None:
    first, second = new_state("prod"), new_state("prod")
    assert first.lineage != second.lineage
    assert uuid.UUID(first.lineage)
    assert first.serial == 0 and first.cluster == "prod" and not first.owners
    assert len(base64.b64decode(first.mask_key)) == 32
    assert first.mask_key != second.mask_key


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, True),
        ({"a": 1}, {"a": "1"}, False),
        ({"a": [1, 2]}, {"a": [2, 1]}, False),
        ({"a": {"x": None}}, {"a": {}}, False),
        ({"name": "ü"}, {"name": "\u00fc"}, True),
    ],
    ids=["key-order", "type", "list-order", "null-vs-absent", "unicode"],
)
def test_canonical_digest(left: dict[str, object], right: dict[str, object], equal: bool) -> None:
    assert canonical_digest(left).startswith("sha256:")
    assert (canonical_digest(left) == canonical_digest(right)) is equal


def _apply(state: StateFile, tag: str, limit: int = DEFAULT_HISTORY_LIMIT) -> StateFile:
    apps = owner("apps", [state_object(deployment("apps", "web", tag))])
    state = next_revision(state, {apps.id: apps}, operation="apply", by="me", history_limit=limit)
    return replace(state, serial=state.serial + 1)  # what a backend write does


def test_history_keeps_previous_revisions_newest_last_and_bounded() -> None:
    state = new_state("c")
    for i in range(5):
        state = _apply(state, f"v{i}", limit=3)
    assert state.serial == 5
    assert [rev.serial for rev in state.history] == [2, 3, 4]
    manifest = next(iter(state.history[-1].owners.values())).objects[0].manifest
    assert manifest is not None and "v3" in str(manifest["spec"]["template"])
    assert state.operation == "apply" and state.written_by == "me" and state.written_at


def test_first_revision_has_no_history_and_limit_zero_keeps_none() -> None:
    assert _apply(new_state("c"), "v1").history == ()
    state = _apply(_apply(new_state("c"), "v1", limit=0), "v2", limit=0)
    assert state.history == ()


def test_objects_index_maps_each_object_to_its_owner() -> None:
    state = small_state()
    index = state.objects()
    assert set(index) == {
        ObjectId("apps", "web", "apps", "Deployment"),
        ObjectId("apps", "web-creds", "", "Secret"),
    }
    assert all(own.id.name == "apps" for own, _ in index.values())


def test_without_ids_forgets_objects_and_owners_and_records_history() -> None:
    from dataclasses import replace

    state = replace(small_state(), serial=1)
    web = ObjectId("apps", "web", "apps", "Deployment")
    less = without_ids(state, [web], by="me")
    assert web not in less.objects() and len(less.objects()) == 1
    assert less.operation == "state rm"
    assert less.history[-1].owners == state.owners
    owner_id = next(iter(state.owners))
    assert without_ids(state, [owner_id], by="me").owners == {}


def test_secret_helpers_on_state_object() -> None:
    obj = state_object(masked_secret("apps", "s", "ff"))
    assert obj.is_secret and obj.secret_values_omitted
    assert not state_object(deployment("a", "b", "1")).is_secret
