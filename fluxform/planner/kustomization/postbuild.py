"""From kustomize output to desired objects, in kustomize-controller's order:
validate -> SOPS decrypt -> postBuild substitution -> normalise -> commonMetadata -> owner labels.

Substitution works on each resource's YAML text as kustomize printed it (kyaml's
JSON-to-YAML form, keys sorted), then re-parses it, so unquoted numbers and booleans
change type exactly as they do in Flux.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fluxform import yamlio
from fluxform.decrypt.resource import (
    encrypted_paths,
    leaves_filled_with,
    leaves_holding,
    needs_decryption,
    undecrypted_warning,
)
from fluxform.errors import Diagnostic, RenderError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.kustomization.normalize import normalize_manifest
from fluxform.planner.kustomization.output import Documents, split_documents
from fluxform.planner.kustomization.spec import FluxKustomization
from fluxform.planner.kustomization.substitute import (
    collect_variables,
    should_substitute,
    substitute_document,
    substitution_disabled,
)
from fluxform.planner.model import DesiredObject

__all__ = [
    "OWNER_NAMESPACE_LABEL",
    "OWNER_NAME_LABEL",
    "Decryptor",
    "ObjectLookup",
    "PostBuildContext",
    "VariablesPending",
    "finalize_kustomization",
    "split_documents",
]

OWNER_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
OWNER_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"

#: Leaves (keys and list indices) that held SOPS ciphertext in a non-Secret kind.
LeafPaths = tuple[tuple[str | int, ...], ...]

#: (kind, namespace, name) -> manifest in the desired state so far, or None.
ObjectLookup = Callable[[str, str, str], Mapping[str, Any] | None]


class Decryptor(Protocol):
    """SOPS for a Flux Kustomization that has spec.decryption: built resources, and the
    encrypted generator inputs kustomize must read decrypted (a private tmpfs copy)."""

    def decrypt_all(self, manifests: Sequence[Mapping[str, Any]], ks: FluxKustomization) -> list[dict[str, Any]]: ...

    def needs_source_decryption(self, ks: FluxKustomization, directory: Path, root: Path) -> bool: ...

    def decrypted_tree(
        self, ks: FluxKustomization, directory: Path, root: Path
    ) -> contextlib.AbstractContextManager[tuple[Path, frozenset[str]]]:
        """A private copy of `root` with the build's generator inputs decrypted, and the
        values they decrypted to (objects holding one are masked like Secrets)."""
        ...

    def scrub(self, text: str) -> str:
        """`text` with every value decrypted so far masked: what an owner's failure says
        may quote decrypted input (a schema error, kustomize, a YAML parser)."""
        ...

    def scrub_diagnostics(self, diagnostics: Sequence[Diagnostic]) -> tuple[Diagnostic, ...]: ...


@dataclass(frozen=True)
class PostBuildContext:
    lookup: ObjectLookup
    strict: bool
    decryptor: Decryptor | None = None
    timings: dict[str, float] | None = None  # stage -> seconds, accumulated (bench/ reads it)

    def add_time(self, stage: str, since: float) -> None:
        if self.timings is not None:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - since


class VariablesPending(Exception):
    """A substituteFrom object is not (yet) in the desired state; the caller may retry."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind}/{name}")
        self.kind, self.name = kind, name


def _variables(ks: FluxKustomization, lookup: ObjectLookup) -> tuple[dict[str, str], frozenset[str]]:
    """Flux's variables, and the values among them that came from a Secret (a leaf that
    substitution fills with one is masked like a Secret's data, whatever the object's kind)."""
    post_build = ks.post_build or {}
    namespace = ks.id.namespace
    from_secret: dict[str, bool] = {}  # variable -> whether the reference that set it last is a Secret

    def data_of(kind: str, name: str) -> Mapping[str, str] | None:
        obj = lookup(kind, namespace, name)
        if obj is None:
            return None
        from_secret.update((key, kind == "Secret") for key in (obj.get("data") or {}) | (obj.get("stringData") or {}))
        if kind == "Secret":
            decoded: dict[str, str] = {}
            for key, value in (obj.get("data") or {}).items():
                decoded[key] = base64.b64decode(str(value)).decode("utf-8", "replace")
            for key, value in (obj.get("stringData") or {}).items():
                decoded[key] = str(value)
            return decoded
        return {k: str(v) for k, v in (obj.get("data") or {}).items()}

    for ref in post_build.get("substituteFrom") or []:
        if (
            isinstance(ref, Mapping)
            and not ref.get("optional")
            and data_of(str(ref.get("kind")), str(ref.get("name"))) is None
        ):
            raise VariablesPending(str(ref.get("kind")), str(ref.get("name")))
    from_secret.clear()  # the check above looked every reference up once already
    variables = collect_variables(post_build, data_of)
    inline = post_build.get("substitute")
    for key in inline if isinstance(inline, Mapping) else ():
        from_secret[str(key)] = False  # inline values are in the Kustomization itself
    return variables, frozenset(variables[k] for k, secret in from_secret.items() if secret and variables.get(k))


def _set_metadata(obj: dict[str, Any], field: str, values: Mapping[str, Any]) -> None:
    if not values:
        return
    meta = obj.setdefault("metadata", {})
    current = meta.get(field) if isinstance(meta.get(field), dict) else {}
    meta[field] = {**current, **{str(k): str(v) for k, v in values.items()}}


def _validate(doc: Any, ks: FluxKustomization, index: int) -> dict[str, Any]:
    where = SourceLocation(f"kustomize build of {ks.path or './'}", document=index)
    if not isinstance(doc, dict):
        raise RenderError("build produced a non-object document", subject=ks.id, location=where)
    raw_meta = doc.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    for what, value in (
        ("apiVersion", doc.get("apiVersion")),
        ("kind", doc.get("kind")),
        ("metadata.name", meta.get("name")),
    ):
        if not value:
            raise RenderError(f"resource has no {what}", subject=ks.id, location=where)
    return doc


def finalize_kustomization(
    ks: FluxKustomization,
    output_text: str,
    ctx: PostBuildContext,
    secret_values: frozenset[str] = frozenset(),
    documents: Documents = None,
) -> tuple[list[DesiredObject], list[Diagnostic]]:
    """Apply Flux's per-resource steps to a build's output. Raises VariablesPending when a
    substituteFrom object is missing so discovery can retry once more of the fleet is built.
    `secret_values`: what decrypted generator inputs hold; leaves equal to one are sensitive.
    `documents`: the output already parsed (output.py), else it is parsed here."""
    diagnostics: list[Diagnostic] = []
    post_build = ks.post_build
    variables, secret_variables = _variables(ks, ctx.lookup) if post_build is not None else ({}, frozenset())
    substitute = post_build is not None and should_substitute(post_build, variables)
    parsed = _parse(output_text, ks, documents)
    started = time.perf_counter()
    decrypted = _decrypt_all(parsed, ks, ctx, diagnostics)
    ctx.add_time("decrypt", started)
    objects: list[DesiredObject] = []
    for index, (doc, text, sensitive) in enumerate(decrypted):
        started = time.perf_counter()
        if substitute and not substitution_disabled(doc):
            before, doc = doc, _substitute(doc, text, variables, ks, ctx, index)
            if secret_variables and doc.get("kind") != "Secret":  # Secrets are masked whole anyway
                sensitive = (*sensitive, *leaves_filled_with(before, doc, secret_variables))
        ctx.add_time("substitute", started)
        objects.append(_finish(doc, ks, sensitive, secret_values))
    return objects, diagnostics


def _parse(output_text: str, ks: FluxKustomization, documents: Documents) -> list[tuple[dict[str, Any], str]]:
    texts = split_documents(output_text)
    if documents is not None and len(documents) == len(texts):
        pairs = enumerate(zip(documents, texts, strict=True))
        return [(_validate(yamlio.clone(doc), ks, index), text) for index, (doc, text) in pairs]
    parsed = []
    for index, text in enumerate(texts):
        try:
            parsed.append((_validate(yamlio.load(text), ks, index), text))
        except yamlio.YamlError as exc:
            raise RenderError("kustomize output is not valid YAML", detail=str(exc), subject=ks.id) from exc
    return parsed


def _substitute(
    doc: dict[str, Any],
    text: str,
    variables: Mapping[str, str],
    ks: FluxKustomization,
    ctx: PostBuildContext,
    index: int,
) -> dict[str, Any]:
    """Textual substitution on the resource's YAML, then re-parsed (so types may change);
    a text substitution left as it was keeps its parsed document."""
    try:
        substituted = substitute_document(text, variables, strict=ctx.strict)
        if substituted == text:
            return doc
        return _validate(yamlio.load(substituted), ks, index)
    except yamlio.YamlError as exc:
        raise RenderError(
            f"{ObjectId.from_manifest(doc)} is not valid YAML after variable substitution",
            detail=str(exc),
            subject=ks.id,
            hint="quote substituted values that contain ': ' or start with '*', '&', '{'",
        ) from exc
    except RenderError as exc:
        exc.summary = f"{ObjectId.from_manifest(doc)}: {exc.summary}"
        exc.args = (exc.summary,)
        raise exc.with_context(subject=ks.id) from None


def _finish(
    doc: dict[str, Any], ks: FluxKustomization, sensitive: LeafPaths, secret_values: frozenset[str]
) -> DesiredObject:
    """Normalise, then commonMetadata, then the owner labels (which win)."""
    obj = normalize_manifest(doc)
    if secret_values and obj.get("kind") != "Secret":  # Secrets are masked whole anyway
        sensitive = (*sensitive, *leaves_holding(obj, secret_values))
    _set_metadata(obj, "labels", (ks.common_metadata.get("labels") or {}))
    _set_metadata(obj, "annotations", (ks.common_metadata.get("annotations") or {}))
    if ks.id.namespace:  # the synthetic root owner (no namespace) is fluxform itself, not Flux
        _set_metadata(obj, "labels", {OWNER_NAME_LABEL: ks.id.name, OWNER_NAMESPACE_LABEL: ks.id.namespace})
    return DesiredObject(ObjectId.from_manifest(obj), str(obj["apiVersion"]), obj, ks.id, None, sensitive)


def _decrypt_all(
    parsed: list[tuple[dict[str, Any], str]],
    ks: FluxKustomization,
    ctx: PostBuildContext,
    diagnostics: list[Diagnostic],
) -> list[tuple[dict[str, Any], str, LeafPaths]]:
    """Decrypt every resource carrying SOPS data, in one parallel batch (independent files).
    Returns (doc, text for substitution, leaves that held ciphertext) per resource."""
    no_paths: LeafPaths = ()
    out = [(doc, text, no_paths) for doc, text in parsed]
    encrypted = [i for i, (doc, _) in enumerate(parsed) if needs_decryption(doc)]
    if not encrypted:
        return out
    if ks.decryption is None or ctx.decryptor is None:
        if ks.decryption is None:
            warnings = (undecrypted_warning(parsed[i][0], subject=ks.id, location=ks.origin) for i in encrypted)
            diagnostics.extend(w for w in warnings if w is not None)
        return out
    docs = ctx.decryptor.decrypt_all([parsed[i][0] for i in encrypted], ks)
    for i, doc in zip(encrypted, docs, strict=True):
        out[i] = (doc, yamlio.dump(doc), tuple(encrypted_paths(parsed[i][0])))
    return out
