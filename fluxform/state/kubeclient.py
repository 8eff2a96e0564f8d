"""Kubernetes API calls for the state backend: client set-up and one error mapping.

Only 404 (absent) and 409 (someone else changed it: the optimistic-concurrency signal) are
answers the backend acts on; every other failure becomes a StateError saying which call
failed and what the API said, never what the state contains.

    api = client_from_kubeconfig(Path("~/.kube/config"), "prod")
    secret = api_call("read Secret ns/x", lambda: core.read_namespaced_secret("x", "ns"), missing_ok=True)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from fluxform.errors import StateError

__all__ = [
    "REQUEST_TIMEOUT",
    "Conflict",
    "api_call",
    "client_from_kubeconfig",
    "json_headers",
    "micro_time",
    "parse_time",
]

T = TypeVar("T")
#: Seconds per API request; a hung API server must not hang an apply forever.
REQUEST_TIMEOUT = 30.0


class Conflict(Exception):
    """HTTP 409: the object changed (or appeared) since we read it."""


def client_from_kubeconfig(kubeconfig: Path | None, context: str) -> client.ApiClient:
    """An API client for `context` (the current context when empty) of `kubeconfig`
    (default: $KUBECONFIG, then ~/.kube/config)."""
    try:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context or None,
            persist_config=False,
        )
        return cast(client.ApiClient, api)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise StateError(
            "cannot load the kubeconfig for the kubernetes state backend",
            detail=str(exc),
            hint="check --kubeconfig/--context (or kubeconfig/context in fluxform.yaml)",
        ) from exc


def api_call(what: str, call: Callable[[], T], *, missing_ok: bool = False) -> T | None:
    """Run one API call; None for 404 when `missing_ok`, Conflict for 409, else StateError."""
    try:
        return call()
    except ApiException as exc:
        if exc.status == 404 and missing_ok:
            return None
        if exc.status == 409:
            raise Conflict(what) from exc
        raise StateError(
            f"{what} failed: HTTP {exc.status} {exc.reason or ''}".strip(),
            detail=_status_message(exc),
            hint=_hint(exc.status),
        ) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise StateError(f"{what} failed: the Kubernetes API did not answer", detail=str(exc)) from exc


def json_headers() -> dict[str, str]:
    """The generated client leaves Content-Type unset on create/replace (and adds to the
    dict it is given, hence a new one per call)."""
    return {"Content-Type": "application/json"}


def _status_message(exc: ApiException) -> str:
    try:
        body: Any = json.loads(exc.body or "")
        return str(body.get("message", ""))
    except (ValueError, AttributeError):
        return ""


def _hint(status: int | None) -> str:
    if status in (401, 403):
        return "the kubeconfig user needs get/list/create/update/delete on secrets and leases in that namespace"
    if status == 404:
        return "does the namespace exist?"
    return ""


def micro_time(moment: dt.datetime | None = None) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> dt.datetime | None:
    """A client-decoded datetime or an RFC 3339 string as an aware datetime; None if absent."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
