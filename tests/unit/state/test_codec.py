"""State JSON: round trips, determinism, sharing, and a clear error for each bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from fluxform.errors import StateError
from fluxform.objects import ObjectId
from fluxform.state.codec import read_header
from fluxform.state.model import (
    ActionRecord,
    RolledBack,
    StateObject,
    next_revision,
    state_from_json,
    state_to_json,
)
from tests.support.states import fleet_state, masked_secret, owner, small_state


def test_small_state_round_trips() -> None:
    state = small_state()
    assert state_from_json(state_to_json(state), "mem") == state


def test_fleet_state_round_trips_byte_identically() -> None:
    state = fleet_state(n_objects=200, revisions=4, per_owner=20, changed_owners=2)
    text = state_to_json(state)
    again = state_from_json(text, "mem")
    assert again == state
    assert state_to_json(again) == text


def test_unchanged_owners_are_stored_once_across_history() -> None:
    state = fleet_state(n_objects=200, revisions=4, per_owner=20, changed_owners=2)
    doc = json.loads(state_to_json(state))
    # 10 owners at first, then 2 new owner records per revision.
    assert len(doc["ownerRecords"]) == 10 + 4 * 2
    assert len(doc["manifests"]) == 200 + 4 * 2 * 20
    assert len(doc["history"]) == 4


def test_decoded_equal_records_are_shared_objects() -> None:
    state = state_from_json(state_to_json(fleet_state(100, 3, 10, 1)), "mem")
    key = sorted(state.owners)[-1]
    assert state.owners[key] is state.history[0].owners[key]


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(state_to_json(small_state()))
    return doc


def _first_record(doc: dict[str, Any]) -> dict[str, Any]:
    return next(iter(doc["ownerRecords"].values()))


def _break(change: Any) -> str:
    doc = _doc()
    change(doc)
    return json.dumps(doc)


BAD_INPUTS = {
    "not-json": ("{", "not JSON"),
    "not-object": ("[]", "document: expected an object"),
    "wrong-format": (_break(lambda d: d.update(format="tfstate")), "format: expected 'fluxform-state'"),
    "newer-format": (_break(lambda d: d.update(formatVersion=99)), "upgrade fluxform"),
    "no-lineage": (_break(lambda d: d.pop("lineage")), "lineage: missing"),
    "empty-lineage": (_break(lambda d: d.update(lineage="")), "lineage: must not be empty"),
    "negative-serial": (_break(lambda d: d.update(serial=-1)), "serial: must not be negative"),
    "bool-serial": (_break(lambda d: d.update(serial=True)), "serial: expected int"),
    "bad-mask-key": (_break(lambda d: d.update(maskKey="abc")), "maskKey: expected base64 of 32 bytes"),
    "dangling-owner": (
        _break(lambda d: d["owners"].update({k: "sha256:00" for k in d["owners"]})),
        "refers to no owner record",
    ),
    "bad-owner-id": (_break(lambda d: d.update(owners={"nope": "x"})), "'nope' is not a Flux inventory id"),
    "dangling-manifest": (
        _break(lambda d: _first_record(d)["objects"][0].update(manifest="sha256:00")),
        "refers to no manifest",
    ),
    "prune-not-bool": (_break(lambda d: _first_record(d).update(prune="yes")), "prune: expected bool"),
    "plaintext-secret": (
        _break(
            lambda d: [
                m.update(data={"password": "aHVudGVyMg=="}) for m in d["manifests"].values() if m["kind"] == "Secret"
            ]
        ),
        "is not masked",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_state_error_naming_file_and_field(case: str) -> None:
    text, expected = BAD_INPUTS[case]
    with pytest.raises(StateError) as err:
        state_from_json(text, "/tmp/x.state.json")
    line = err.value.one_line()
    assert "/tmp/x.state.json" in line
    assert expected in line


def test_encoding_refuses_an_unmasked_secret_value() -> None:
    manifest = masked_secret("apps", "s", "aa")
    manifest["data"] = {"password": "aHVudGVyMg=="}
    obj = StateObject(ObjectId("apps", "s", "", "Secret"), "v1", "sha256:0", manifest)
    state = small_state()
    from dataclasses import replace

    bad = owner("leaky", [obj])
    with pytest.raises(StateError, match="not masked"):
        state_to_json(replace(state, owners={**state.owners, bad.id: bad}))


def test_header_is_readable_from_the_first_bytes() -> None:
    state = replace(fleet_state(100, 2, 10, 1), lineage='odd "lineage" \\ name', serial=42)
    text = state_to_json(state).encode()
    assert read_header(text[:300]) == ('odd "lineage" \\ name', 42)
    assert read_header(json.dumps(json.loads(text), indent=2).encode()) is None  # fall back to parsing


def test_history_actions_source_commit_and_rolled_back_round_trip() -> None:
    base = small_state()
    apps = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
    cm = ObjectId("demo", "settings", "", "ConfigMap")
    applied = replace(
        base,
        serial=3,
        source_commit="a" * 40,
        actions=(ActionRecord(apps, cm, "configured"),),
        rolled_back=(RolledBack("sha256:" + "b" * 64, "c" * 40, 2, "2026-12-06T00:00:00Z", "bad release"),),
    )
    later = next_revision(applied, applied.owners, operation="apply (failed, rolled back)", by="me", actions=())
    later = replace(later, serial=4, actions=(ActionRecord(apps, cm, "not restored", "409 conflict"),))

    again = state_from_json(state_to_json(later), "mem")

    assert again == later
    assert again.history[-1].actions == (ActionRecord(apps, cm, "configured"),)
    assert again.history[-1].source_commit == "a" * 40 and again.source_commit == "a" * 40
    assert again.rolled_back[0].reason == "bad release"


def test_a_state_without_actions_keeps_its_bytes() -> None:
    """The new fields are written only when set: states written before them read and write
    back byte-identically."""
    text = state_to_json(small_state())
    assert "actions" not in text and "sourceCommit" not in text and "rolledBack" not in text
    assert state_to_json(state_from_json(text, "mem")) == text
