"""Flux postBuild variable substitution (kustomize-controller + fluxcd/pkg kustomize_varsub.go).

Per Kustomization: `collect_variables` once. Per built (and decrypted) resource, in order:
skip it if `substitution_disabled`, skip everything unless `should_substitute`, then
`substitute_document` on its YAML text and re-parse the result, so that an unquoted
`${replicas}` becomes an int while `"${replicas}"` stays a string, as in Flux.

    variables = collect_variables(ks_spec["postBuild"], lookup)
    if should_substitute(post_build, variables) and not substitution_disabled(doc):
        doc = yamlio.load(substitute_document(text, variables, strict=True))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fluxform.errors import RenderError
from fluxform.planner.kustomization.envsubst import EnvsubstError, expand

__all__ = [
    "DISABLE_KEY",
    "VAR_NAME_PATTERN",
    "SubstitutionError",
    "VariableLookup",
    "collect_variables",
    "envsubst",
    "should_substitute",
    "substitute_document",
    "substitution_disabled",
]

#: Label or annotation that opts one resource out (value compared case-sensitively).
DISABLE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
#: Flux's own spelling of the rule, quoted in its error message.
VAR_NAME_PATTERN = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"
_VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")  # RE2's [:alpha:] is ASCII only
_STRATEGIES = ("WithVariables", "Always")
_PLURALS = {"ConfigMap": "configmaps", "Secret": "secrets"}

#: (kind "ConfigMap"|"Secret", name) -> data as text (Secret values base64-decoded), or
#: None when the object does not exist. The namespace is the Kustomization's own.
VariableLookup = Callable[[str, str], Mapping[str, str] | None]


class SubstitutionError(RenderError):
    """postBuild substitution failed; the summary reads like kustomize-controller's."""


def envsubst(text: str, variables: Mapping[str, str], *, strict: bool) -> str:
    """Flux's envsubst over `text` (see fluxform.planner.kustomization.envsubst for the syntax).

    Strict is the StrictPostBuildSubstitutions gate (default on since kustomize-controller
    v1.9.0): a variable missing from `variables` fails unless a default form reads it;
    non-strict, it expands to "".
    """

    def lookup(name: str) -> tuple[str, bool]:
        value = variables.get(name)
        return ("" if value is None else value, value is not None or not strict)

    try:
        return expand(text, lookup)
    except EnvsubstError as err:
        raise _envsubst_failure(err) from None


def _envsubst_failure(err: EnvsubstError) -> SubstitutionError:
    message = str(err)
    where = f"in the ${{...}} expression at line {err.line} of the manifest" if err.line else ""
    if message.startswith("variable not set"):
        hint = "define it in postBuild.substitute or substituteFrom, or give a default: ${name:=value}"
    else:
        hint = "Flux supports ${v}, ${v:=d}, ${v:-d}, ${v:n:len}, ${v/a/b} ... (not ${v-d}); write $${ for a literal ${"
    return SubstitutionError(f"envsubst error: variable substitution failed: {message}", detail=where, hint=hint)


def collect_variables(post_build: Mapping[str, Any], lookup: VariableLookup) -> dict[str, str]:
    """Flux's variable set: substituteFrom in order (later wins), then inline `substitute`.

    Every newline is removed from every value. Only a missing object is tolerated, and only
    with `optional: true`; the lookup raises for any other failure. Names are checked later,
    by `substitute_document`, because Flux checks them per resource when it substitutes.
    """
    variables: dict[str, str] = {}
    for index, reference in enumerate(_sequence(post_build.get("substituteFrom"), "substituteFrom")):
        kind, name, optional = _reference(reference, index)
        data = lookup(kind, name)
        if data is None:
            if optional:
                continue
            raise SubstitutionError(
                f"substitute from '{kind}/{name}' error: {_PLURALS[kind]} \"{name}\" not found",
                hint=f"create the {kind} in the Kustomization's namespace or mark the reference optional: true",
            )
        variables.update((key, value.replace("\n", "")) for key, value in data.items())
    inline = post_build.get("substitute") or {}
    if not isinstance(inline, Mapping):
        raise SubstitutionError("spec.postBuild.substitute must be a map of strings")
    for key, value in inline.items():
        if not isinstance(value, str):
            raise SubstitutionError(
                f"spec.postBuild.substitute.{key} must be a string, not {type(value).__name__}",
                hint="quote the value: the Kustomization API only accepts strings here",
            )
        variables[str(key)] = value.replace("\n", "")
    return variables


def _sequence(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SubstitutionError(f"spec.postBuild.{field} must be a list")
    return value


def _reference(reference: Any, index: int) -> tuple[str, str, bool]:
    """(kind, name, optional) of one substituteFrom entry, validated as the CRD schema does."""
    field = f"spec.postBuild.substituteFrom[{index}]"
    if not isinstance(reference, Mapping):
        raise SubstitutionError(f"{field} must be a map with kind and name")
    kind, name, optional = reference.get("kind"), reference.get("name"), reference.get("optional", False)
    if kind not in _PLURALS:
        raise SubstitutionError(f"{field}.kind must be ConfigMap or Secret, not {kind!r}")
    if not isinstance(name, str) or not name:
        raise SubstitutionError(f"{field}.name must be a non-empty string")
    if not isinstance(optional, bool):
        raise SubstitutionError(f"{field}.optional must be true or false")
    return kind, name, optional


def substitution_disabled(manifest: Mapping[str, Any]) -> bool:
    """Label or annotation `kustomize.toolkit.fluxcd.io/substitute: disabled`, exact case."""
    metadata = manifest.get("metadata") or {}
    return any((metadata.get(field) or {}).get(DISABLE_KEY) == "disabled" for field in ("labels", "annotations"))


def should_substitute(post_build: Mapping[str, Any] | None, variables: Mapping[str, str]) -> bool:
    """Whether Flux runs substitution at all.

    Needs `spec.postBuild` (an empty `{}` counts). Strategy `WithVariables` (the default)
    also needs at least one variable, so with none even `${x:=d}` stays literally in place;
    `Always` runs regardless.
    """
    if post_build is None:
        return False
    strategy = post_build.get("substituteStrategy") or "WithVariables"
    if strategy not in _STRATEGIES:
        raise SubstitutionError(f"spec.postBuild.substituteStrategy must be WithVariables or Always, not {strategy!r}")
    return strategy == "Always" or len(variables) > 0


def substitute_document(doc_text: str, variables: Mapping[str, str], *, strict: bool) -> str:
    """Substitute one resource's YAML text, as kustomize printed it; returns the new text.

    Checks variable names first (Flux fails the resource on any invalid one). The caller
    re-parses the result; a parse failure there is Flux's `envsubst error: YAMLToJSON: ...`.
    """
    invalid = sorted(name for name in variables if not _VAR_NAME.fullmatch(name))
    if invalid:
        raise SubstitutionError(
            f"envsubst error: '{invalid[0]}' var name is invalid, must match '{VAR_NAME_PATTERN}'",
            hint="variable names (substitute keys, ConfigMap/Secret keys) may hold only letters, digits and _",
        )
    text = envsubst(doc_text, variables, strict=strict)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SubstitutionError(
            "envsubst error: YAMLToJSON: the substituted manifest is not valid UTF-8",
            hint="a ${v:offset:length} cuts a multi-byte character: offsets count bytes",
        ) from None
    return text
