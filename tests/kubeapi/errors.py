"""Kubernetes-shaped failures: everything the emulator refuses becomes a v1 `Status`.

Messages, reasons and `details` follow k8s.io/apimachinery `api/errors` so clients
(the kubernetes Python client, kubectl, Helm) print and classify them as they would
against a real API server.

    raise not_found("deployments", "apps", "web")   # 404 `deployments.apps "web" not found`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApiError",
    "FieldError",
    "already_exists",
    "apply_conflict",
    "bad_request",
    "forbidden",
    "gone",
    "invalid",
    "method_not_allowed",
    "modified_conflict",
    "not_found",
    "path_not_found",
    "qualified",
    "reason_for_code",
    "unauthorized",
    "unsupported_media_type",
]

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for_code(code: int) -> str:
    """The StatusReason a real server pairs with an HTTP code ("" when it has none)."""
    return _REASONS.get(code, "")


class ApiError(Exception):
    """A failed request; `status()` is the JSON body the server sends."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation failure, rendered like Go's `field.Error`."""

    field: str
    reason: str  # FieldValueInvalid | FieldValueForbidden | FieldValueRequired
    detail: str
    value: str = ""  # already rendered the way Go's %#v would show it

    def body(self) -> str:
        if self.reason == "FieldValueInvalid":
            return f"Invalid value: {self.value}: {self.detail}"
        if self.reason == "FieldValueRequired":
            return f"Required value: {self.detail}" if self.detail else "Required value"
        return f"Forbidden: {self.detail}"


def qualified(resource: str, group: str) -> str:
    """`deployments.apps`, or just `configmaps` for the core group."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(resource: str, group: str, name: str) -> ApiError:
    message = f'{qualified(resource, group)} "{name}" not found'
    return ApiError(404, "NotFound", message, _details(name, group, resource))


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource: str, group: str, name: str) -> ApiError:
    message = f'{qualified(resource, group)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(name, group, resource))


def modified_conflict(resource: str, group: str, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(name, group, resource))


def apply_conflict(conflicts: list[tuple[str, str]]) -> ApiError:
    """409 for server-side apply; `conflicts` holds (printed manager, field path) pairs."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {manager}", "field": path}
        for manager, path in conflicts
    ]
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {manager}: {path}"
    else:
        by_manager: dict[str, list[str]] = {}
        for manager, path in conflicts:
            by_manager.setdefault(manager, []).append(path)
        lines: list[str] = []
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {path}" for path in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    rendered = [f"{e.field}: {e.body()}" for e in errors]
    joined = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    message = f'{qualified(kind, group)} "{name}" is invalid: {joined}'
    details = _details(name, group, kind)
    details["causes"] = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return ApiError(422, "Invalid", message, details)


def forbidden(verb: str, resource: str, group: str, name: str, namespace: str, user: str) -> ApiError:
    """403 worded like the RBAC authorizer's denial."""
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    reason = f'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" {scope}'
    subject = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {reason}", _details(name, group, resource))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def unsupported_media_type(content_type: str) -> ApiError:
    message = (
        f"the body of the request was in an unknown format ({content_type}) - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
        "application/strategic-merge-patch+json"
    )
    return ApiError(415, "UnsupportedMediaType", message)


def gone(requested: str, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")
