"""Check manifests against the schema of their kind: built-in kinds against Kubernetes' own
(kubeschemas.py), custom resources against the CRDs of the fleet (crdschemas.py).

jsonschema-rs compiles each kind's schema once (a few ms) and checks an object in
microseconds, so validation stays a small share of a plan (bench/bench_validate.py).

    validator = SchemaValidator(KubeSchemas.load("1.33"), crd_schemas(all_manifests))
    validator.check(manifest)    # [Violation(...)], [] when valid, None when no schema
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from fluxform.validate.kubeschemas import KubeSchemas
from fluxform.validate.violations import Violation, violation_of

__all__ = ["SchemaValidator", "group_version"]

_MAX_VIOLATIONS = 20  # per object: enough to fix it, bounded for a broken generator


def group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class SchemaValidator:
    """Validators compiled on first use, one per (group, version, kind)."""

    def __init__(self, kube: KubeSchemas, crds: Mapping[tuple[str, str, str], Mapping[str, Any]]) -> None:
        self.kube = kube
        self.crds = crds
        self._compiled: dict[tuple[str, str, str], jsonschema_rs.Validator | None] = {}

    def knows(self, api_version: str, kind: str) -> bool:
        return self._validator(api_version, kind) is not None

    def check(self, manifest: Mapping[str, Any]) -> list[Violation] | None:
        """What is wrong with `manifest` (sorted by path; [] when it is valid), or None when
        neither Kubernetes nor a CRD of the fleet has a schema for its kind."""
        validator = self._validator(str(manifest.get("apiVersion") or ""), str(manifest.get("kind") or ""))
        if validator is None:
            return None
        if validator.is_valid(manifest):
            return []
        found: set[Violation] = set()
        for error in validator.iter_errors(manifest):
            found.update(violation_of(error))
            if len(found) >= _MAX_VIOLATIONS:
                break
        return sorted(found)

    def _validator(self, api_version: str, kind: str) -> jsonschema_rs.Validator | None:
        group, version = group_version(api_version)
        key = (group, version, kind)
        if key not in self._compiled:
            schema = self.crds.get(key) or self.kube.schema_of(group, version, kind)
            self._compiled[key] = (
                None if schema is None else jsonschema_rs.validator_for(dict(schema), registry=self.kube.registry)
            )
        return self._compiled[key]
