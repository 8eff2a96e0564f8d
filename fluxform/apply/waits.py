"""Waiting for objects to become healthy, as Flux's health checks wait (flux-semantics 4.7):
poll until every object is Current, fail fast as soon as one is Failed (Flux's default), and
give up at the deadline naming what was still in progress and why.

Polls start fast and slow down (0.1 s doubling up to `poll_max`): a healthy cluster answers
the first read, a rollout is not hammered. Each round reads the pending objects in parallel.
`stop` is called before every round: a signal (or another owner's failure) ends the wait
between two reads.

    wait_healthy(cluster, targets, timeout=300, poll_max=2, stop=check, on_wait=report)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fluxform.apply.health import Health, HealthStatus, object_health
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.lookup import get_object
from fluxform.cluster.ref import ObjectRef
from fluxform.errors import ClusterError

__all__ = ["HealthFailed", "WaitTarget", "wait_healthy"]

_FIRST_POLL = 0.1
_LISTED = 5


@dataclass(frozen=True, slots=True)
class WaitTarget:
    ref: ObjectRef
    gone_is_done: bool = False  # a Job with ttlSecondsAfterFinished may be deleted once finished


class HealthFailed(ClusterError):
    """An object failed (Stalled, a deadline exceeded) or was not healthy in time."""


def wait_healthy(
    cluster: ClusterClient,
    targets: Sequence[WaitTarget],
    *,
    timeout: float,
    poll_max: float,
    what: str = "health checks",
    stop: Callable[[], None] = lambda: None,
    on_wait: Callable[[str, float], None] = lambda text, elapsed: None,
) -> None:
    started = time.monotonic()
    deadline = started + timeout
    pending = list(targets)
    delay = _FIRST_POLL
    workers = max(1, min(cluster.options.concurrency, len(pending)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while pending:
            stop()
            healths = list(pool.map(lambda t: object_health(get_object(cluster, t.ref)), pending))
            failed = [(t, h) for t, h in zip(pending, healths, strict=True) if h.failed]
            if failed:
                raise _failure(f"{what} failed early due to stalled resources", failed)
            left = [
                (t, h)
                for t, h in zip(pending, healths, strict=True)
                if not (h.current or (t.gone_is_done and h.status is HealthStatus.NOT_FOUND))
            ]
            pending = [t for t, _ in left]
            if not pending:
                return
            now = time.monotonic()
            if now >= deadline:
                raise _failure(f"{what}: timeout after {timeout:g}s waiting for", left)
            on_wait(_listed(left), now - started)
            time.sleep(min(delay, deadline - now))
            delay = min(delay * 2, poll_max)


def _failure(summary: str, items: Sequence[tuple[WaitTarget, Health]]) -> HealthFailed:
    return HealthFailed(f"{summary}: {_listed(items)}")


def _listed(items: Sequence[tuple[WaitTarget, Health]]) -> str:
    shown = [f"{t.ref} status: '{h.status}'" + (f" ({h.message})" if h.message else "") for t, h in items[:_LISTED]]
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return "[" + ", ".join(shown) + "]" + more
