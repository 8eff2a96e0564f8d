"""The plan workflow the CLI runs: read state, build the fleet (decrypting), diff, mask.

Kept apart from cli.py so tests and other front ends call the same sequence.

    plan = plan_fleet(Path("clusters/staging"), FleetRequest(), state_path=Path("state.json"))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.model import DesiredState
from fluxform.planner.plan import Plan, plan_offline
from fluxform.planner.secrets import FleetSecrets, SecretOptions
from fluxform.state.backend import StateBackend
from fluxform.state.local import LocalBackend
from fluxform.state.model import StateFile

__all__ = ["FleetRequest", "load_state", "plan_fleet", "rendered_fleet"]


@dataclass(frozen=True)
class FleetRequest:
    discover: DiscoverOptions = field(default_factory=DiscoverOptions)
    secrets: SecretOptions = field(default_factory=SecretOptions)


def load_state(source: Path | StateBackend | None) -> StateFile | None:
    """The recorded state: from a local file (None when there is none yet) or a backend."""
    if source is None:
        return None
    if isinstance(source, Path):
        return LocalBackend(source).read() if source.exists() else None
    return source.read()


@contextlib.contextmanager
def rendered_fleet(path: Path, request: FleetRequest) -> Iterator[tuple[DesiredState, FleetSecrets]]:
    """The desired state, with the secrets handle still open (for masking or rendering)."""
    with FleetSecrets(request.secrets) as secrets:
        desired = discover(path, replace(request.discover, decryptor=secrets))
        yield replace(desired, diagnostics=(*desired.diagnostics, *secrets.diagnostics())), secrets


def plan_fleet(path: Path, request: FleetRequest, *, state_path: Path | StateBackend | None = None) -> Plan:
    state = load_state(state_path)
    with rendered_fleet(path, request) as (desired, secrets):
        return plan_offline(desired, state, secrets.masking(state), target=str(path))
