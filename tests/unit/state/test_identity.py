"""Which differences between a state's identity and a plan's make the state another's."""

from __future__ import annotations

import pytest

from fluxform.errors import StateError
from fluxform.state.identity import Identity, check_state_identity, mismatches
from fluxform.state.model import new_state, state_from_json, state_to_json

CASES = [
    ("same fleet path", Identity("clusters/prod"), Identity("clusters/prod"), 0),
    ("other fleet path", Identity("clusters/prod"), Identity("clusters/staging"), 1),
    ("./ and trailing slash alike", Identity("./clusters/prod/"), Identity("clusters/prod"), 0),
    ("unknown fleet path on one side", Identity(""), Identity("clusters/staging"), 0),
    (
        "same server, other context name",
        Identity(context="a", server="https://x"),
        Identity(context="b", server="https://x/"),
        0,
    ),
    ("other server", Identity(context="a", server="https://x"), Identity(context="a", server="https://y"), 1),
    ("no servers: contexts decide", Identity(context="prod"), Identity(context="staging"), 1),
    ("offline plan knows no context", Identity(context="prod", server="https://x"), Identity(), 0),
    ("both differ", Identity("clusters/a", "a", "https://a"), Identity("clusters/b", "a", "https://b"), 2),
]


@pytest.mark.parametrize(("recorded", "current", "count"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mismatches(recorded: Identity, current: Identity, count: int) -> None:
    assert len(mismatches(recorded, current)) == count


def test_mismatch_raises_unless_forced() -> None:
    state = new_state("prod", fleet_path="clusters/prod", server="https://prod")
    with pytest.raises(StateError, match="recorded for another cluster or fleet: fleet path clusters/prod"):
        check_state_identity(state, Identity("clusters/staging"), location="file s.json", force=False)
    warning = check_state_identity(state, Identity("clusters/staging"), location="file s.json", force=True)
    assert warning is not None and warning.summary.startswith("--force-state: state file s.json")
    assert check_state_identity(state, Identity("clusters/prod"), location="file s.json", force=False) is None


def test_identity_round_trips_and_older_states_read_as_unknown() -> None:
    state = new_state("prod", fleet_path="clusters/prod", server="https://prod")
    again = state_from_json(state_to_json(state), "s.json")
    assert (again.cluster, again.server, again.fleet_path) == ("prod", "https://prod", "clusters/prod")
    older = state_to_json(new_state("prod")).replace(',"server":"","fleetPath":""', "")
    assert '"server"' not in older
    assert state_from_json(older, "old.json").server == ""
