"""The emulated API server without the HTTP layer: routing, authorization, verbs, and the
Python controls tests use (status, RBAC denials, faults, request log, seeding, reset).

    emu = Emulator()
    emu.forbid(verb="patch", resource="deployments", namespace="prod")
    emu.set_status(("apps", "Deployment", "prod", "web"), {"observedGeneration": 1})
"""

from __future__ import annotations

import copy
import json
import re
import threading
from typing import Any

from .catalog import ResourceType
from .controls import Controls, Fault, ForbidRule, RequestRecord
from .errors import ApiError, forbidden, method_not_allowed, path_not_found, reason_for_code, unauthorized
from .messages import APPLY_PATCH, ApiRequest, ApiResponse, ResourceCall
from .paths import DocumentPath, ResourcePath, parse_path
from .reads import as_table, get_object, list_objects
from .refs import ObjectRef, as_ref, resource_path
from .routes import document
from .simulation import write_status
from .state import State
from .watch import open_watch
from .writes import create, delete, delete_collection, patch, replace

__all__ = ["Emulator"]

_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def _verb(method: str, call: ResourceCall) -> str:
    if method == "GET":
        if call.name:
            return "get"
        return "watch" if call.params.get("watch") in ("true", "1") else "list"
    if method == "DELETE":
        return "delete" if call.name else "deletecollection"
    verb = _WRITE_VERBS.get(method)
    if verb is None or (verb == "create") == bool(call.name):
        raise method_not_allowed()
    return verb


class Emulator:
    def __init__(self, *, user: str = "test", token: str = "kubeapi-token", watch_timeout: float = 10.0) -> None:
        self.state = State()
        self.state.seed_namespaces()
        self.controls = Controls(user=user, token=token)
        self.watch_timeout = watch_timeout
        self.stopping = threading.Event()
        self.server_address = "127.0.0.1"

    # ----- serving -----------------------------------------------------------------

    def respond(self, request: ApiRequest, record: RequestRecord | None = None) -> ApiResponse:
        """Answer one request: injected faults first, then the token check, then the API."""
        fault = self.controls.take_fault(request.method, request.path)
        response = self._faulted(fault) if fault else None
        if response is None:
            if not self.controls.token_ok(request.headers.get("authorization")):
                response = ApiResponse(401, unauthorized().status())
            else:
                response = self.handle(request, record)
        if record is not None:
            record.status = response.status
        return response

    def _faulted(self, fault: Fault) -> ApiResponse | None:
        if fault.latency:
            self.stopping.wait(fault.latency)
        if fault.drop:
            return ApiResponse(0, drop=True)
        if fault.status:
            error = ApiError(fault.status, reason_for_code(fault.status), f"kubeapi: injected fault ({fault.status})")
            return ApiResponse(fault.status, error.status())
        return None

    def handle(self, request: ApiRequest, record: RequestRecord | None = None) -> ApiResponse:
        try:
            route = parse_path(request.path)
            if route is None:
                raise path_not_found()
            if isinstance(route, DocumentPath):
                with self.state.store.lock:
                    return document(self.state, request, route.parts, self.server_address)
            return self._resource(request, route, record)
        except ApiError as error:
            return ApiResponse(error.code, error.status())

    def _resource(self, request: ApiRequest, route: ResourcePath, record: RequestRecord | None) -> ApiResponse:
        with self.state.store.lock:
            rtype = self.state.registry.lookup(route.group, route.version, route.plural)
        if rtype is None or route.subresource not in (None, "status") or (route.subresource and not rtype.status):
            raise path_not_found()
        if not rtype.namespaced and route.namespace is not None:
            raise path_not_found()
        call = ResourceCall(request, rtype, route.namespace, route.name, route.subresource)
        verb = _verb(request.method, call)
        if record is not None:
            record.verb = verb
        self._authorize(verb, call)
        return self._perform(verb, call)

    def _authorize(self, verb: str, call: ResourceCall) -> None:
        resource = call.rtype.plural + (f"/{call.subresource}" if call.subresource else "")
        namespace = call.scope_namespace
        if self.controls.is_forbidden(verb, call.rtype.plural, call.rtype.group, namespace, call.name or ""):
            raise forbidden(verb, resource, call.rtype.group, call.name or "", namespace, self.controls.user)

    def _perform(self, verb: str, call: ResourceCall) -> ApiResponse:
        state, rtype = self.state, call.rtype
        if verb == "watch":
            stream = open_watch(state, rtype, call.namespace, call.params, self.stopping, self.watch_timeout)
            return ApiResponse(200, stream=stream)
        with state.store.lock:
            if verb == "get":
                body = get_object(state, rtype, call.namespace, call.name or "")
                return ApiResponse(200, as_table([body], {}) if call.request.wants_table() else body)
            if verb == "list":
                listed = list_objects(state, rtype, call.namespace, call.params)
                if call.request.wants_table():
                    return ApiResponse(200, as_table(listed["items"], listed["metadata"]))
                return ApiResponse(200, listed)
            if verb == "create":
                return ApiResponse(*create(state, call))
            if verb == "update":
                return ApiResponse(200, replace(state, call))
            if verb == "patch":
                return ApiResponse(*patch(state, call))
            if verb == "delete":
                return ApiResponse(200, delete(state, call))
            return ApiResponse(200, delete_collection(state, call))

    # ----- test controls -----------------------------------------------------------

    def _rtype(self, ref: ObjectRef) -> ResourceType:
        rtype = self.state.registry.by_kind(ref.group, ref.kind)
        if rtype is None:
            raise KeyError(f"kubeapi does not serve {ref.kind} in group {ref.group!r}")
        return rtype

    def get(self, ref: Any) -> dict[str, Any] | None:
        """A copy of the stored object (no simulated controller runs), or None."""
        ref = as_ref(ref)
        with self.state.store.lock:
            rtype = self._rtype(ref)
            obj = self.state.store.get(self.state.key(rtype, ref.namespace, ref.name))
            return self.state.present(rtype, obj) if obj else None

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
        """Snapshot of every stored object (optionally one kind / namespace), sorted by key."""
        with self.state.store.lock:
            found = [self.state.store.get(key) for key in self.state.store.all_keys()]
        return [
            copy.deepcopy(obj)
            for obj in found
            if obj is not None
            and (kind is None or obj.get("kind") == kind)
            and (namespace is None or obj["metadata"].get("namespace", "") == namespace)
        ]

    def set_status(self, ref: Any, status: dict[str, Any] | None) -> dict[str, Any]:
        """Replace an object's status (as manager `kubeapi-test`, via /status). The health
        simulation leaves it alone until the object's generation changes."""
        ref = as_ref(ref)
        with self.state.store.lock:
            rtype = self._rtype(ref)
            key = self.state.key(rtype, ref.namespace, ref.name)
            return self.state.present(rtype, write_status(self.state, rtype, key, status, "kubeapi-test"))

    def _call(self, method: str, path: str, body: Any, content_type: str, query: dict[str, str]) -> dict[str, Any]:
        headers = {"content-type": content_type, "user-agent": "kubeapi-test"}
        request = ApiRequest(method, path, query, headers, json.dumps(body).encode() if body is not None else b"")
        response = self.handle(request)
        if response.status >= 400:
            status = response.body
            raise ApiError(status["code"], status["reason"], status["message"], status.get("details"))
        result: dict[str, Any] = response.body
        return result

    def create(self, obj: dict[str, Any], *, manager: str = "kubeapi-test") -> dict[str, Any]:
        """Create an object through the normal create path (defaults, validation, managedFields)."""
        ref = as_ref(obj)
        path = resource_path(self._rtype(ref), ref.namespace)
        return self._call("POST", path, obj, "application/json", {"fieldManager": manager})

    def apply(self, obj: dict[str, Any], *, manager: str, force: bool = False) -> dict[str, Any]:
        """Server-side apply as `manager`, e.g. to play a Flux controller owning a field."""
        ref = as_ref(obj)
        path = resource_path(self._rtype(ref), ref.namespace, ref.name)
        query = {"fieldManager": manager, "force": "true" if force else "false"}
        return self._call("PATCH", path, obj, APPLY_PATCH, query)

    def delete(self, ref: Any) -> None:
        ref = as_ref(ref)
        self._call("DELETE", resource_path(self._rtype(ref), ref.namespace, ref.name), None, "", {})

    def forbid(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        group: str | None = None,
    ) -> None:
        """Deny matching requests with an RBAC-shaped 403 (None matches anything)."""
        self.controls.forbid(ForbidRule(verb, resource, namespace, name, group))

    def inject_fault(
        self,
        path_regex: str,
        *,
        status: int | None = None,
        latency: float = 0.0,
        drop: bool = False,
        times: int | None = None,
        method: str | None = None,
    ) -> Fault:
        """Fail requests whose path matches: an error `status`, extra `latency` seconds before
        answering, or `drop` (close the connection unanswered); `times` None = always."""
        return self.controls.add_fault(Fault(re.compile(path_regex), method, status, latency, drop, times))

    @property
    def requests(self) -> list[RequestRecord]:
        with self.controls.lock:
            return list(self.controls.requests)

    def request_count(self, *, method: str | None = None, verb: str | None = None, path: str | None = None) -> int:
        """How many logged requests match; `path` is a regex searched in the URL path."""
        pattern = re.compile(path) if path else None
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method)
            and (verb is None or r.verb == verb)
            and (pattern is None or pattern.search(r.path))
        )

    def clear_requests(self) -> None:
        with self.controls.lock:
            self.controls.requests.clear()

    def require_token(self, token: str | None = None) -> None:
        """Answer 401 to requests without `Authorization: Bearer <token>`."""
        self.controls.require_token = True
        if token is not None:
            self.controls.token = token

    def expire_token(self) -> None:
        """Make the current (kubeconfig) token invalid, as expired credentials are."""
        self.controls.require_token = True
        self.controls.token = self.controls.token + "-rotated"

    def reset(self) -> None:
        """Back to a fresh cluster: only the initial namespaces, no CRDs, no controls."""
        with self.state.store.lock:
            self.state.store.clear()
            self.state.settled.clear()
            self.state.registry.clear_crds()
            self.state.seed_namespaces()
        self.controls.clear()
