"""How the Kubernetes state backend reads the one cluster client's answers.

Only "absent" (None) and 409 (someone else changed or created it: the optimistic-concurrency
signal, raised as `Conflict`) are answers the backend acts on; every other refusal, and a
cluster that cannot be reached, becomes a StateError saying which call failed and what the
API said, never what the state contains.

    with state_call(f"read {location}"):
        head = get_object(cluster, ref)
    stored = accepted(create(cluster, SECRETS, body), f"write {location}")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fluxform.cluster.errors import Refusal, Unreachable
from fluxform.cluster.mapping import KindMapping
from fluxform.cluster.write import Written
from fluxform.errors import ClusterError, StateError

__all__ = ["LEASES", "SECRETS", "Conflict", "accepted", "state_call"]

SECRETS = KindMapping("", "v1", "Secret", "secrets", namespaced=True)
LEASES = KindMapping("coordination.k8s.io", "v1", "Lease", "leases", namespaced=True)

_RBAC_HINT = "the kubeconfig user needs get/list/create/update/delete on secrets and leases in that namespace"


class Conflict(Exception):
    """HTTP 409: the object changed (or appeared) since it was read. `retried`: the write was
    sent more than once, so the change may be this process's own first send."""

    def __init__(self, what: str, *, retried: bool) -> None:
        super().__init__(what)
        self.retried = retried


@contextmanager
def state_call(what: str) -> Iterator[None]:
    """Run cluster calls for the backend; a cluster failure becomes a StateError on `what`."""
    try:
        yield
    except StateError:
        raise
    except Unreachable as exc:
        raise StateError(f"{what} failed: the Kubernetes API did not answer", detail=exc.one_line()) from exc
    except ClusterError as exc:
        raise StateError(f"{what} failed", detail=exc.one_line(), hint=_hint_for(exc.summary)) from exc


def accepted(written: Written, what: str) -> dict[str, Any]:
    """The written object; Conflict on 409, StateError naming `what` on any other refusal."""
    failure = written.failure
    if failure is None:
        return written.obj or {}
    if failure.status == 409:
        raise Conflict(what, retried=written.retried)
    hint = _RBAC_HINT if failure.refusal is Refusal.FORBIDDEN or failure.status == 401 else ""
    if failure.refusal is Refusal.NAMESPACE_MISSING:
        hint = "does the namespace exist?"
    summary = f"{what} failed: HTTP {failure.status} {failure.reason}".strip()
    raise StateError(summary, detail=failure.message, hint=hint)


def _hint_for(summary: str) -> str:
    return _RBAC_HINT if "HTTP 403" in summary else ""
