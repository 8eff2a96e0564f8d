"""API answers as values, and the one place they become user-facing ClusterErrors.

A refusal the planner can act on (403 on a dry-run, 422 immutable field, 404 namespace)
comes back as an `ApiFailure`; only failures that make the whole plan meaningless
(unreachable server, rejected credentials, a server error that outlived the retries)
are raised, as a `ClusterError` with one line naming the context and the call.

    failure = ApiFailure.from_response(403, body)
    raise failure.error("list deployments.apps", context="prod")
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fluxform.errors import ClusterError

__all__ = ["ApiFailure", "Cause", "credentials_rejected", "transport_error"]

#: How Flux (fluxcd/pkg ssa IsImmutableError) and kubectl spot an immutable-field refusal,
#: plus the wordings the API server uses for Service clusterIP and StatefulSet spec.
_IMMUTABLE = re.compile(r"is\simmutable|immutable\sfield|may not change once set|updates to \S+ spec for fields")
_MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Cause:
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class ApiFailure:
    """A Kubernetes `Status` failure. `message` is the server's (it never holds Secret values:
    the API server does not echo data fields in its errors)."""

    status: int
    reason: str
    message: str
    causes: tuple[Cause, ...] = ()
    details_kind: str = ""  # details.kind: "namespaces" on a missing namespace

    @classmethod
    def from_response(cls, status: int, body: bytes | str) -> ApiFailure:
        try:
            doc: Any = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        if not isinstance(doc, dict):
            doc = {}
        details = doc.get("details") if isinstance(doc.get("details"), dict) else {}
        causes = tuple(
            Cause(str(c.get("field", "")), str(c.get("message", "")))
            for c in (details.get("causes") or [])
            if isinstance(c, dict)
        )
        message = str(doc.get("message") or "") or (
            body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        )
        return cls(status, str(doc.get("reason") or ""), _short(message), causes, str(details.get("kind") or ""))

    @property
    def is_forbidden(self) -> bool:
        return self.status == 403

    @property
    def is_unauthorized(self) -> bool:
        return self.status == 401

    @property
    def is_missing_namespace(self) -> bool:
        return self.status == 404 and self.details_kind == "namespaces"

    @property
    def is_immutable(self) -> bool:
        """422 naming an immutable field: the object must be deleted and created again."""
        texts = [self.message, *(c.message for c in self.causes)]
        return self.status == 422 and any(_IMMUTABLE.search(t) for t in texts)

    def immutable_fields(self) -> list[str]:
        fields = [c.field for c in self.causes if c.field and _IMMUTABLE.search(c.message)]
        return fields or [c.field for c in self.causes if c.field]

    def error(self, what: str, *, context: str) -> ClusterError:
        """The failure as the error a user reads: what was asked, of which context, and why."""
        where = f" (context {context})" if context else ""
        return ClusterError(
            f"{what} failed{where}: HTTP {self.status} {self.reason}".rstrip(),
            detail=self.message,
            hint=_hint(self.status),
        )


def credentials_rejected(*, server: str, context: str) -> ClusterError:
    """HTTP 401: the API answered, but not to these credentials."""
    where = f" of context {context}" if context else ""
    return ClusterError(f"the Kubernetes API at {server} rejected the credentials{where} (HTTP 401)", hint=_hint(401))


def transport_error(exc: BaseException, *, server: str, context: str) -> ClusterError:
    """No HTTP answer at all: refused, timed out, DNS, TLS."""
    where = f" (context {context})" if context else ""
    return ClusterError(
        f"cannot reach the Kubernetes API at {server}{where}",
        detail=_short(_root_cause(exc)),
        hint="check that the cluster is up and that --kubeconfig/--context point at it",
    )


def _root_cause(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # urllib3 MaxRetryError keeps the last error here
    inner = reason if isinstance(reason, BaseException) else exc
    text = str(inner)
    # urllib3 prefixes "<...HTTPConnection object at 0x...>: " or "HTTPConnection(host=..., port=...): "
    return re.sub(r"^(<[^>]+>|\w+\([^)]*\)):\s*", "", text) or type(inner).__name__


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _hint(status: int) -> str:
    if status == 401:
        return "the credentials were rejected (expired token or certificate?): log in again or refresh the kubeconfig"
    if status == 403:
        return "the kubeconfig user lacks RBAC permission for this call"
    if status in (500, 502, 503, 504):
        return "the API server is failing; retry later"
    return ""
