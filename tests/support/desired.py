"""Desired states in tests: reading rendered ones, and (planner, diff and live-plan tests)
building small ones in code.

web = owner_of(discover(cluster_dir, options), ks("apps"))
"""

from __future__ import annotations

from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredState, Owner

__all__ = ["owner_of"]


def owner_of(state: DesiredState, owner_id: ObjectId) -> Owner:
    """The owner `owner_id` of `state`, asserted present."""
    found = state.owner(owner_id)
    assert found is not None, f"{owner_id} is not an owner of this desired state"
    return found
