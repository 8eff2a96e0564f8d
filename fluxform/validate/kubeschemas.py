"""The Kubernetes OpenAPI schemas of one Kubernetes version, as JSON Schema.

They come from the data files the `kubernetes-validate` wheel ships (one directory per
minor version, "strict": unknown fields are errors, as server-side apply makes them). Only
its data is read, never its code: the package is located without being imported.

    schemas = KubeSchemas.load("1.33")
    schemas.schema_of("apps", "v1", "Deployment")   # JSON Schema, $refs into schemas.registry
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs

from fluxform.errors import RenderError

__all__ = ["DEFINITIONS_URI", "KubeSchemas", "kube_version_dirs", "parse_kube_version"]

#: where the per-kind schemas' `$ref`s point (their `$id` is https://kubernetes.io/api/<kind>/...)
DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")
_DIR = re.compile(r"^v(\d+)\.(\d+)\.0-local-strict$")


def parse_kube_version(text: str) -> tuple[int, int]:
    """(major, minor) of `1.33`, `v1.33.2` or `v1.33.2-gke.100`."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise RenderError(f"--kube-version {text!r} is not a Kubernetes version", hint="write it as 1.33 or v1.33.2")
    return int(match.group(1)), int(match.group(2))


def _schema_root() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")  # its data only: not imported
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        root = Path(location) / "kubernetes-json-schema"
        if root.is_dir():
            return root
    raise RenderError(
        "the Kubernetes schemas are not installed (package kubernetes-validate)",
        hint="reinstall fluxform, or plan with --no-validate",
    )


def kube_version_dirs() -> dict[tuple[int, int], Path]:
    """(major, minor) -> directory of its strict schemas, for every version shipped."""
    found = {}
    for entry in _schema_root().iterdir():
        match = _DIR.match(entry.name)
        if match is not None:
            found[(int(match.group(1)), int(match.group(2)))] = entry
    return found


def _any_of(node: Any) -> Any:
    """The schemas write IntOrString and Quantity as `oneOf` of types that both allow null,
    so a null fails them; the API server takes null as "unset". `anyOf` says what it means."""
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


@dataclass
class KubeSchemas:
    """The built-in kinds' schemas of one Kubernetes minor version."""

    version: tuple[int, int]  # the schemas' version (may differ from the one asked for)
    directory: Path
    registry: jsonschema_rs.Registry
    notes: tuple[str, ...] = ()  # e.g. "no schemas for 1.40: using 1.37"
    _cache: dict[tuple[str, str, str], Mapping[str, Any] | None] = field(default_factory=dict)

    @classmethod
    def load(cls, kube_version: str = "") -> KubeSchemas:
        """The schemas for `kube_version` ("": the newest shipped). A version newer or older
        than those shipped takes the nearest, with a note saying so."""
        dirs = kube_version_dirs()
        if not dirs:
            raise RenderError("no Kubernetes schemas found in the kubernetes-validate package")
        newest, oldest = max(dirs), min(dirs)
        wanted = parse_kube_version(kube_version) if kube_version else newest
        chosen = max((v for v in dirs if v <= wanted), default=oldest)
        notes: tuple[str, ...] = ()
        if chosen != wanted:
            notes = (f"no Kubernetes schemas for {_text(wanted)} here: objects are checked against {_text(chosen)}",)
        directory = dirs[chosen]
        definitions = _any_of(json.loads((directory / "_definitions.json").read_text(encoding="utf-8")))
        registry = jsonschema_rs.Registry([(DEFINITIONS_URI, definitions)])
        return cls(chosen, directory, registry, notes)

    @property
    def version_text(self) -> str:
        return _text(self.version)

    def schema_of(self, group: str, version: str, kind: str) -> Mapping[str, Any] | None:
        """The schema of a built-in kind, or None when this Kubernetes version does not
        serve it (a custom resource, or an API version it removed)."""
        key = (group, version, kind)
        if key not in self._cache:
            name = f"{kind.lower()}-{group.split('.')[0] + '-' if group else ''}{version}.json"
            self._cache[key] = self._read(name, group, version, kind)
        return self._cache[key]

    def _read(self, name: str, group: str, version: str, kind: str) -> Mapping[str, Any] | None:
        path = self.directory / name
        if "/" in name or not path.is_file():
            return None
        schema = json.loads(path.read_text(encoding="utf-8"))
        served = schema.get("x-kubernetes-group-version-kind") or []
        # file names keep only the group's first label: make sure it is this group
        if not any(g.get("group", "") == group and g.get("version") == version for g in served):
            return None
        if any(g.get("kind") != kind for g in served):
            return None
        return dict(_any_of(schema))


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
