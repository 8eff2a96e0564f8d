"""API answers as values, and the one place they become user-facing ClusterErrors.

A refusal a caller can act on (403 on a dry-run, 409 field conflict, 422 immutable field,
404 namespace) comes back as an `ApiFailure` whose `refusal` says which; only failures that
make the whole run meaningless (unreachable server, rejected credentials, a server error that
outlived the retries) are raised, as a `ClusterError` with one line naming the context and
the call.

    failure = ApiFailure.from_response(409, body)
    failure.refusal            # Refusal.CONFLICT
    failure.conflicts()        # (FieldConflict(manager='autoscaler', field='.spec.replicas'),)
    raise failure.error("apply", context="prod")
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fluxform.errors import ClusterError

__all__ = [
    "ApiFailure",
    "Cause",
    "FieldConflict",
    "Refusal",
    "Unreachable",
    "credentials_rejected",
    "transport_error",
]

#: How Flux (fluxcd/pkg ssa IsImmutableError) and kubectl spot an immutable-field refusal,
#: plus the wordings the API server uses for Service clusterIP and StatefulSet spec.
_IMMUTABLE = re.compile(r"is\simmutable|immutable\sfield|may not change once set|updates to \S+ spec for fields")
_MESSAGE_LIMIT = 300
#: `conflict with "kustomize-controller" using apps/v1` (server-side apply's 409 causes)
_CONFLICT_MANAGER = re.compile(r'conflict with "([^"]*)"')


class Refusal(StrEnum):
    """Why the API server refused a request, in the terms a caller acts on."""

    CONFLICT = "conflict"  # 409 server-side apply: fields owned by another field manager
    MODIFIED = "modified"  # 409 the object changed since read (resourceVersion/uid precondition)
    ALREADY_EXISTS = "already-exists"  # 409 create of an existing object
    IMMUTABLE = "immutable"  # 422 naming a field that cannot change: delete and create again
    INVALID = "invalid"  # 422 or 400: the object or request is wrong
    NAMESPACE_MISSING = "namespace-missing"  # 404 namespaces "x" not found
    NOT_FOUND = "not-found"  # 404 the object (or its type) is not there
    FORBIDDEN = "forbidden"  # 403 RBAC
    GONE = "gone"  # 410 a watch resourceVersion too old
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Cause:
    field: str
    message: str
    reason: str = ""  # FieldManagerConflict, FieldValueInvalid, ...


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """One field of a 409 apply conflict and the manager that owns it."""

    manager: str
    field: str


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
            Cause(str(c.get("field", "")), str(c.get("message", "")), str(c.get("reason", "")))
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

    @property
    def refusal(self) -> Refusal:
        if self.status == 409:
            if self.reason == "AlreadyExists":
                return Refusal.ALREADY_EXISTS
            return Refusal.CONFLICT if self.conflicts() else Refusal.MODIFIED
        if self.status == 422:
            return Refusal.IMMUTABLE if self.is_immutable else Refusal.INVALID
        if self.status == 404:
            return Refusal.NAMESPACE_MISSING if self.is_missing_namespace else Refusal.NOT_FOUND
        simple = {400: Refusal.INVALID, 403: Refusal.FORBIDDEN, 410: Refusal.GONE}
        return simple.get(self.status, Refusal.OTHER)

    def conflicts(self) -> tuple[FieldConflict, ...]:
        """The fields a server-side apply conflicted on, each with the manager owning it."""
        found = []
        for cause in self.causes:
            if cause.reason == "FieldManagerConflict" or (cause.field and _CONFLICT_MANAGER.search(cause.message)):
                match = _CONFLICT_MANAGER.search(cause.message)
                found.append(FieldConflict(match.group(1) if match else "", cause.field))
        return tuple(found)

    def error(self, what: str, *, context: str) -> ClusterError:
        """The failure as the error a user reads: what was asked, of which context, and why."""
        where = f" (context {context})" if context else ""
        return ClusterError(
            f"{what} failed{where}: HTTP {self.status} {self.reason}".rstrip(),
            detail=self.message,
            hint=_hint(self.status) or _refusal_hint(self),
        )


def credentials_rejected(*, server: str, context: str) -> ClusterError:
    """HTTP 401: the API answered, but not to these credentials."""
    where = f" of context {context}" if context else ""
    return ClusterError(f"the Kubernetes API at {server} rejected the credentials{where} (HTTP 401)", hint=_hint(401))


class Unreachable(ClusterError):
    """No HTTP answer at all: the call may or may not have reached the server."""


def transport_error(exc: BaseException, *, server: str, context: str, what: str = "") -> Unreachable:
    """No HTTP answer at all: refused, timed out, dropped, DNS, TLS."""
    where = f" (context {context})" if context else ""
    doing = f"{what}: " if what else ""
    return Unreachable(
        f"{doing}cannot reach the Kubernetes API at {server}{where}",
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


def _refusal_hint(failure: ApiFailure) -> str:
    refusal = failure.refusal
    if refusal is Refusal.CONFLICT:
        owners = sorted({c.manager for c in failure.conflicts() if c.manager})
        return f"fields owned by {', '.join(owners) or 'another manager'}: apply with force to take them over"
    if refusal is Refusal.IMMUTABLE:
        return f"{', '.join(failure.immutable_fields()) or 'a field'} cannot change: the object must be recreated"
    if refusal is Refusal.NAMESPACE_MISSING:
        return "create the namespace first"
    if refusal is Refusal.MODIFIED:
        return "the object changed since it was read; read it again"
    return ""


def _hint(status: int) -> str:
    if status == 401:
        return "the credentials were rejected (expired token or certificate?): log in again or refresh the kubeconfig"
    if status == 403:
        return "the kubeconfig user lacks RBAC permission for this call"
    if status in (500, 502, 503, 504):
        return "the API server is failing; retry later"
    return ""
