"""HelmRelease values composition, reproducing fluxcd/pkg chartutil ChartValuesFromReferences.

Order: each `spec.valuesFrom` entry in list order, then `spec.values`. Helm later coalesces
the result over the chart defaults; that happens inside the render, not here.

The Go code has an aliasing quirk kept on purpose: before each `targetPath` entry the
inline values are shallow-merged into the running result (their nested maps are *shared*,
not copied) and the path is set in place. If the path runs through a map that only the
inline values supplied, the inline map itself is changed and the targetPath value wins at
the final merge; if an earlier valuesFrom already created that map (or the key is a
top-level scalar), the final merge of inline values wins. A Diagnostic flags each
targetPath whose value was overridden by inline values.

    composed = compose_values(hr, lookup)
    composed.values   # what Flux hands to Helm
    composed.sources  # ["ConfigMap/apps/podinfo-values (values.yaml)", ..., "spec.values"]
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxform.errors import Diagnostic, ObjectNotFound, RenderError
from fluxform.helm.sdk import parse_values_yaml
from fluxform.helm.spec import HelmReleaseSpec, ValuesReference
from fluxform.helm.strvals import StrvalsError, parse_into, parse_into_string

__all__ = [
    "ComposedValues",
    "Lookup",
    "compose_values",
    "merge_maps",
    "replace_path_literal",
    "replace_path_value",
    "values_digest",
]

#: (kind, namespace, name) -> manifest from the desired state (or the cluster), or None.
Lookup = Callable[[str, str, str], Mapping[str, Any] | None]


def values_digest(values: Mapping[str, Any]) -> str:
    """sha256 of values as canonical JSON (not Flux's digest): compares a release's values
    with the desired ones without keeping either."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ComposedValues:
    values: dict[str, Any]  # user values handed to Helm (not yet coalesced with chart defaults)
    sources: tuple[str, ...]  # where they came from, in merge order (for `get hr`)
    diagnostics: tuple[Diagnostic, ...] = field(default=())


def merge_maps(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """chartutil.MergeMaps: copy of `a` with `b` merged over it; maps merge recursively,
    anything else (lists included) replaces. Nested maps of `b` are shared, not copied."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict):
            current = out.get(key)
            if isinstance(current, dict):
                out[key] = merge_maps(current, value)
                continue
        out[key] = value
    return out


def replace_path_value(values: dict[str, Any], path: str, value: str) -> None:
    """chartutil.ReplacePathValue: `--set path=value`; a quoted value is set as a string."""
    single = value.startswith("'") and value.endswith("'")
    double = value.startswith('"') and value.endswith('"')
    if single or double:
        parse_into_string(f"{path}={value.strip(chr(39) + chr(34))}", values)
    else:
        parse_into(f"{path}={value}", values)


_LITERAL_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "[": "\\[", "]": "\\]", "{": "\\{", "}": "\\}"})


def replace_path_literal(values: dict[str, Any], path: str, value: str) -> None:
    """chartutil.ReplacePathLiteralValue: the value verbatim, `\\.` still escapes the path."""
    parse_into_string(f"{path}={value.translate(_LITERAL_ESCAPES)}", values)


def compose_values(hr: HelmReleaseSpec, lookup: Lookup) -> ComposedValues:
    """Merge valuesFrom then inline values exactly as helm-controller does.

    A missing non-optional ConfigMap/Secret or key raises RenderError naming the HelmRelease;
    optional ones are skipped (a missing key too, as the code does)."""
    inline: dict[str, Any] = copy.deepcopy(dict(hr.values))
    result: dict[str, Any] = {}
    sources: list[str] = []
    diagnostics: list[Diagnostic] = []
    target_paths: list[tuple[ValuesReference, dict[str, Any]]] = []
    for ref in hr.values_from:
        data = _values_data(hr, ref, lookup)
        if data is None:
            continue
        sources.append(_describe(hr, ref))
        if ref.target_path:
            result = merge_maps(result, inline)
            _set_target_path(hr, ref, result, data)
            target_paths.append((ref, _probe_after_set(ref, data)))
            continue
        result = merge_maps(result, _parse_document(hr, ref, data))
    final = merge_maps(result, inline)
    if hr.values:
        sources.append("spec.values")
    diagnostics.extend(_overridden_target_paths(hr, final, target_paths))
    return ComposedValues(final, tuple(sources), tuple(diagnostics))


def _values_data(hr: HelmReleaseSpec, ref: ValuesReference, lookup: Lookup) -> str | None:
    doc = lookup(ref.kind, hr.namespace, ref.name)
    if doc is None:
        if ref.optional:
            return None
        raise _ref_error(hr, ref, "resource not found", missing=True)
    data = _secret_data(hr, ref, doc) if ref.kind == "Secret" else _configmap_data(doc)
    if ref.values_key not in data:
        if ref.optional:
            return None
        raise _ref_error(hr, ref, "key not found")
    return data[ref.values_key]


def _configmap_data(doc: Mapping[str, Any]) -> dict[str, str]:
    data = doc.get("data") or {}
    return {str(k): "" if v is None else str(v) for k, v in data.items()} if isinstance(data, Mapping) else {}


def _secret_data(hr: HelmReleaseSpec, ref: ValuesReference, doc: Mapping[str, Any]) -> dict[str, str]:
    """`data` (base64) with `stringData` over it, as the API server stores a Secret."""
    out: dict[str, str] = {}
    for key, encoded in (doc.get("data") or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(encoded or ""), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _ref_error(hr, ref, f"data key {key!r} is not base64-encoded UTF-8") from None
    for key, value in (doc.get("stringData") or {}).items():
        out[str(key)] = "" if value is None else str(value)
    return out


def _set_target_path(hr: HelmReleaseSpec, ref: ValuesReference, result: dict[str, Any], data: str) -> None:
    try:
        if ref.literal:
            replace_path_literal(result, ref.target_path, data)
        else:
            replace_path_value(result, ref.target_path, data)
    except StrvalsError as exc:
        raise _ref_error(hr, ref, f"failed to merge value: {exc}") from None


def _parse_document(hr: HelmReleaseSpec, ref: ValuesReference, data: str) -> dict[str, Any]:
    try:
        return parse_values_yaml(data)
    except RenderError as exc:
        raise _ref_error(hr, ref, f"failed to read values data: {exc.detail}") from None


def _probe_after_set(ref: ValuesReference, data: str) -> dict[str, Any]:
    """The value the targetPath alone produces, to detect it being overridden later."""
    probe: dict[str, Any] = {}
    try:
        if ref.literal:
            replace_path_literal(probe, ref.target_path, data)
        else:
            replace_path_value(probe, ref.target_path, data)
    except StrvalsError:
        return {}
    return probe


def _overridden_target_paths(
    hr: HelmReleaseSpec, final: Mapping[str, Any], target_paths: list[tuple[ValuesReference, dict[str, Any]]]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for ref, probe in target_paths:
        for path, expected in _leaves(probe):
            actual = _get_path(final, path)
            if actual is not _MISSING and actual != expected:
                out.append(
                    Diagnostic(
                        f"valuesFrom {ref.kind}/{ref.name} targetPath {ref.target_path} is overridden by "
                        "spec.values (helm-controller merges inline values last)",
                        subject=hr.id,
                        location=hr.origin,
                    )
                )
                break
    return out


_MISSING = object()


def _leaves(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(tree, dict) and tree:
        return [leaf for k, v in tree.items() for leaf in _leaves(v, (*prefix, k))]
    if isinstance(tree, list) and tree:
        return [leaf for i, v in enumerate(tree) if v is not None for leaf in _leaves(v, (*prefix, i))]
    return [(prefix, tree)]


def _get_path(tree: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        in_list = isinstance(part, int) and isinstance(tree, list) and part < len(tree)
        in_map = isinstance(part, str) and isinstance(tree, Mapping) and part in tree
        if not (in_list or in_map):
            return _MISSING
        tree = tree[part]
    return tree


def _describe(hr: HelmReleaseSpec, ref: ValuesReference) -> str:
    text = f"{ref.kind}/{hr.namespace}/{ref.name} ({ref.values_key})"
    return f"{text} -> {ref.target_path}" if ref.target_path else text


def _ref_error(hr: HelmReleaseSpec, ref: ValuesReference, reason: str, *, missing: bool = False) -> RenderError:
    optional = " optional" if ref.optional else ""
    summary = (
        f"could not resolve{optional} {ref.kind} chart values reference '{hr.namespace}/{ref.name}' "
        f"with key '{ref.values_key}': {reason}"
    )
    hint = f"add {ref.kind} {hr.namespace}/{ref.name} with key {ref.values_key} to the fleet, or mark it optional"
    if missing:
        return ObjectNotFound(summary, (ref.kind, hr.namespace, ref.name), subject=hr.id, location=hr.origin, hint=hint)
    return RenderError(summary, subject=hr.id, location=hr.origin, hint=hint)
