"""Test-side levers: injected faults, RBAC denials, bearer-token checks, the request log.

These are set from Python by tests (never over HTTP) and consulted by the server on
every request.

    controls.inject_fault(r"/apis/apps/v1/.*/deployments", status=500, times=1)
    controls.inject_fault(r"/secrets$", method="POST", lose_reply=True, times=1)  # processed, answer lost
    controls.forbid(ForbidRule(verb="patch", resource="deployments", namespace="prod"))
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

__all__ = ["Controls", "Fault", "ForbidRule", "RequestRecord"]


@dataclass(slots=True)
class Fault:
    """One injected failure. `times` None means every matching request."""

    path_regex: re.Pattern[str]
    method: str | None
    status: int | None
    latency: float
    drop: bool
    times: int | None
    lose_reply: bool = False  # handle the request, then close the connection unanswered
    watch: bool | None = None  # True: only watch requests; False: never them; None: either

    def matches(self, method: str, path: str, watching: bool = False) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.watch is not None and self.watch != watching:
            return False
        return (self.method is None or self.method == method) and bool(self.path_regex.search(path))


@dataclass(frozen=True, slots=True)
class ForbidRule:
    verb: str | None
    resource: str | None
    namespace: str | None
    name: str | None
    group: str | None

    def matches(self, verb: str, resource: str, group: str, namespace: str, name: str) -> bool:
        pairs = (
            (self.verb, verb),
            (self.resource, resource),
            (self.namespace, namespace),
            (self.name, name),
            (self.group, group),
        )
        return all(want is None or want == got for want, got in pairs)


@dataclass(slots=True)
class RequestRecord:
    """One request as the server saw it. `verb` is the Kubernetes verb (get, list, watch,
    create, update, patch, delete, deletecollection) or "" for non-resource paths."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    user_agent: str
    verb: str = ""
    status: int = 0


@dataclass
class Controls:
    user: str = "test"
    token: str = "kubeapi-token"
    require_token: bool = False
    faults: list[Fault] = field(default_factory=list)
    forbidden: list[ForbidRule] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject_fault(
        self,
        path_regex: str,
        *,
        status: int | None = None,
        latency: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        method: str | None = None,
        lose_reply: bool = False,
        watch: bool | None = None,
    ) -> Fault:
        fault = Fault(re.compile(path_regex), method, status, latency, drop, times, lose_reply, watch)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str, watching: bool = False) -> Fault | None:
        """The first matching fault, consuming one of its `times`."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path, watching):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def forbid(self, rule: ForbidRule) -> None:
        with self.lock:
            self.forbidden.append(rule)

    def is_forbidden(self, verb: str, resource: str, group: str, namespace: str, name: str) -> bool:
        with self.lock:
            return any(rule.matches(verb, resource, group, namespace, name) for rule in self.forbidden)

    def token_ok(self, authorization: str | None) -> bool:
        return not self.require_token or authorization == f"Bearer {self.token}"

    def log(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.forbidden.clear()
            self.requests.clear()
            self.require_token = False
