"""Files fluxform writes for the user (plans, diffs): private, never half-written, never
through a planted link. Below the commands, so the plan file module writes with it too;
the one implementation is `fluxform.safe_write`."""

from __future__ import annotations

from fluxform.safe_write import write_private

__all__ = ["write_private"]
