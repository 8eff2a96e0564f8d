"""State locks: who holds one, and the error a second writer gets.

A lock is held for plan-with-refresh and apply. Its record says who took it, when and for
what, so a blocked user knows whom to ask, and carries the id `fluxform force-unlock` needs
when the holder is gone.

    info = new_lock_info("apply")
    lock_id = backend.lock(info)        # LockHeld(holder=...) if someone else has it
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass

from fluxform.errors import StateError
from fluxform.state.model import utc_now

__all__ = ["LockHeld", "LockInfo", "LockLost", "lock_info_from_json", "lock_info_to_json", "new_lock_info"]


@dataclass(frozen=True, slots=True)
class LockInfo:
    """The record a lock holder leaves for others to read."""

    id: str  # random; what force-unlock asks for
    who: str  # user@host (pid N)
    when: str  # RFC 3339 UTC
    operation: str  # "apply", "plan", "state rm", ...

    def describe(self) -> str:
        return f"{self.who} since {self.when} for {self.operation} (lock id {self.id})"


class LockHeld(StateError):
    """Someone else holds the state lock."""

    def __init__(self, holder: LockInfo, location: str) -> None:
        super().__init__(
            f"state {location} is locked by {holder.describe()}",
            hint=f"wait for it to finish; if that process is gone: fluxform force-unlock {holder.id}",
        )
        self.holder = holder


class LockLost(StateError):
    """Our lock was force-unlocked or taken over; we must not write."""


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def new_lock_info(operation: str) -> LockInfo:
    return LockInfo(id=str(uuid.uuid4()), who=_who(), when=utc_now(), operation=operation)


def lock_info_to_json(info: LockInfo) -> str:
    return json.dumps(asdict(info), sort_keys=True)


def lock_info_from_json(text: str | bytes) -> LockInfo | None:
    """None when the record is unreadable (being written, or damaged)."""
    try:
        data = json.loads(text)
        return LockInfo(id=data["id"], who=data["who"], when=data["when"], operation=data["operation"])
    except (ValueError, KeyError, TypeError):
        return None
