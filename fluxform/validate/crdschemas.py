"""JSON Schemas for custom resources, from the `openAPIV3Schema` of the CRDs a fleet renders.

A CRD's schema is OpenAPI v3 ("structural", Kubernetes' dialect), not JSON Schema. The rules
that decide what server-side apply accepts (kube-openapi `schemaconv`, which Flux's apply
goes through) are reproduced here:
- an object with `properties` and no `additionalProperties` allows no other field ("field
  not declared in schema"); one without either is free-form;
- `x-kubernetes-preserve-unknown-fields: true` allows unknown fields in its whole subtree;
- `x-kubernetes-int-or-string` is an integer or a string; `x-kubernetes-embedded-resource`
  objects take apiVersion, kind and metadata;
- null is taken as "unset" anywhere (the API server prunes or ignores it);
- `apiVersion`, `kind` and `metadata` are always allowed at the top; metadata is checked
  against Kubernetes' ObjectMeta (labels must be strings).
CEL rules (`x-kubernetes-validations`) and `format`s are not checked.

    schemas = crd_schemas(manifests)          # {(group, version, kind): JSON Schema}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fluxform.validate.kubeschemas import DEFINITIONS_URI

__all__ = ["OBJECT_META_REF", "crd_schemas", "json_schema_of"]

OBJECT_META_REF = f"{DEFINITIONS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

#: OpenAPI keywords JSON Schema reads the same way (values copied as they are)
_SAME = (
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "required",
)
_ENVELOPE = ("apiVersion", "kind", "metadata")


def crd_schemas(manifests: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> JSON Schema, for every served version of every
    CustomResourceDefinition in `manifests` that has a schema (a later CRD of the same
    group and kind replaces an earlier one, as the later apply would)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for doc in manifests:
        if doc.get("kind") != "CustomResourceDefinition" or not str(doc.get("apiVersion", "")).startswith(
            "apiextensions.k8s.io/"
        ):
            continue
        spec = doc.get("spec")
        if not isinstance(spec, Mapping):
            continue
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if not isinstance(group, str) or not isinstance(kind, str):
            continue
        for version in spec.get("versions") or []:
            if not isinstance(version, Mapping) or version.get("served") is False:
                continue
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(schema, Mapping) and isinstance(version.get("name"), str):
                found[(group, str(version["name"]), kind)] = json_schema_of(schema)
    return found


def json_schema_of(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD version's `openAPIV3Schema` as a JSON Schema for a whole custom resource."""
    schema = _convert(openapi, preserve=False)
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = {"type": ["string", "null"]}
    properties["kind"] = {"type": ["string", "null"]}
    own_meta = properties.get("metadata")
    properties["metadata"] = {"$ref": OBJECT_META_REF}
    if own_meta:  # e.g. a maxLength on metadata.name: both hold
        properties["metadata"] = {"allOf": [{"$ref": OBJECT_META_REF}, own_meta]}
    schema["properties"] = properties
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _convert(node: Mapping[str, Any], *, preserve: bool) -> dict[str, Any]:
    preserve = preserve or node.get("x-kubernetes-preserve-unknown-fields") is True
    out: dict[str, Any] = {key: node[key] for key in _SAME if key in node}
    if "enum" in out:  # null is "unset", never one of the values
        out["enum"] = [*out["enum"], None]
    kind = node.get("type")
    if node.get("x-kubernetes-int-or-string") is True:
        out["type"] = ["integer", "string", "null"]
    elif isinstance(kind, str) and kind:
        out["type"] = [kind, "null"]
    for combinator in ("allOf", "anyOf", "oneOf"):
        parts = node.get(combinator)
        if isinstance(parts, list):  # structural schemas allow only value checks here
            out[combinator] = [_value_checks(p) for p in parts if isinstance(p, Mapping)]
    if isinstance(node.get("not"), Mapping):
        out["not"] = _value_checks(node["not"])
    if isinstance(node.get("items"), Mapping):
        out["items"] = _convert(node["items"], preserve=preserve)
    properties = node.get("properties")
    if isinstance(properties, Mapping) and properties:
        out["properties"] = {
            name: _convert(sub, preserve=preserve) for name, sub in properties.items() if isinstance(sub, Mapping)
        }
    if node.get("x-kubernetes-embedded-resource") is True:
        embedded = dict(out.get("properties") or {})
        for name in _ENVELOPE:
            embedded.setdefault(name, {"type": ["object" if name == "metadata" else "string", "null"]})
        out["properties"] = embedded
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        out["additionalProperties"] = _convert(extra, preserve=preserve)
    elif extra is False or (extra is None and out.get("properties") and not preserve):
        out["additionalProperties"] = False
    return out


def _value_checks(node: Mapping[str, Any]) -> dict[str, Any]:
    """A branch of allOf/anyOf/oneOf/not: value validations only (no new fields: structural
    schemas declare fields outside these), so unknown fields are never judged here."""
    out: dict[str, Any] = {key: node[key] for key in _SAME if key in node}
    if isinstance(node.get("properties"), Mapping):
        out["properties"] = {n: _value_checks(s) for n, s in node["properties"].items() if isinstance(s, Mapping)}
    if isinstance(node.get("items"), Mapping):
        out["items"] = _value_checks(node["items"])
    for combinator in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(combinator), list):
            out[combinator] = [_value_checks(p) for p in node[combinator] if isinstance(p, Mapping)]
    if isinstance(node.get("not"), Mapping):
        out["not"] = _value_checks(node["not"])
    return out
