"""Requests and responses as the emulator core sees them, independent of the HTTP server.

call = ResourceCall(request, rtype, namespace="default", name="web", subresource=None)
call.dry_run, call.manager
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .catalog import ResourceType
from .errors import bad_request
from .protobuf import PROTOBUF, decode_protobuf

__all__ = ["APPLY_PATCH", "ApiRequest", "ApiResponse", "ResourceCall"]

APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")

    def wants_table(self) -> bool:
        return "as=table" in self.headers.get("accept", "").lower()

    def decode_body(self) -> Any:
        """The body as JSON (YAML for YAML content types, protobuf for the kinds protobuf.py knows)."""
        if not self.body.strip():
            raise bad_request("the request body is empty")
        if self.content_type == PROTOBUF:
            return decode_protobuf(self.body)
        try:
            return json.loads(self.body)
        except ValueError as exc:
            if "yaml" not in self.content_type:
                kind = self.content_type or "no content type"
                raise bad_request(f"the request body is not valid JSON ({kind})") from exc
        try:
            return yaml.safe_load(self.body)
        except yaml.YAMLError as exc:
            raise bad_request(f"error decoding YAML: {exc}") from exc


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: Any = None
    content_type: str = "application/json"
    stream: Iterator[bytes] | None = None  # chunked body (watch)
    drop: bool = False  # close the connection without answering


def _user_agent_manager(user_agent: str) -> str:
    """The default field manager: the User-Agent up to its first '/', as the API server derives it."""
    return "".join(c for c in user_agent.split("/")[0] if c.isprintable())[:128] or "unknown"


@dataclass(frozen=True, slots=True)
class ResourceCall:
    request: ApiRequest
    rtype: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def params(self) -> Mapping[str, str]:
        return self.request.query

    @property
    def dry_run(self) -> bool:
        value = self.params.get("dryRun")
        if value not in (None, "", "All"):
            raise bad_request(f"Invalid dry run value: {value}, valid values are: All")
        return value == "All"

    @property
    def manager(self) -> str:
        return self.params.get("fieldManager") or _user_agent_manager(self.request.user_agent)

    @property
    def scope_namespace(self) -> str:
        return (self.namespace or "") if self.rtype.namespaced else ""
