"""kustomize's output: split into documents, parsed once, kept parsed in the build cache.

Parsing YAML is most of what a warm plan would do (every document of every build, each run),
so a build parses its output once (`parse_documents`, in the build's own thread) and the
build cache keeps the parsed documents beside the text, as JSON, which reads back several
times faster than YAML parses. Documents that cannot be parsed are left for postbuild to
report, with the owner's name.

    documents = parse_documents(text)            # None when a document is not valid YAML
    text, documents = unpack(pack(text, documents))
"""

from __future__ import annotations

import json
from typing import Any

from fluxform import yamlio

__all__ = ["pack", "parse_documents", "split_documents", "unpack"]

#: Parsed documents, one per document of `split_documents(text)`; None: not parsed.
Documents = tuple[Any, ...] | None


def split_documents(text: str) -> list[str]:
    """kustomize separates documents with a bare `---` line."""
    docs: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---":
            docs.append("".join(current))
            current = []
        else:
            current.append(line)
    docs.append("".join(current))
    return [d for d in docs if d.strip()]


def parse_documents(text: str) -> Documents:
    """Each document of the output parsed on its own (as postbuild substitutes each one)."""
    try:
        return tuple(yamlio.load(document) for document in split_documents(text))
    except yamlio.YamlError:
        return None


def pack(text: str, documents: Documents) -> bytes:
    """One JSON line of the parsed documents (`null` when not parsed), then the text."""
    return json.dumps(documents, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n" + text.encode()


def unpack(payload: bytes) -> tuple[str, Documents]:
    """What `pack` wrote; ValueError when it is not that."""
    head, newline, body = payload.partition(b"\n")
    if not newline:
        raise ValueError("no documents line")
    documents = json.loads(head)
    if documents is not None and not isinstance(documents, list):
        raise ValueError("documents are not a list")
    return body.decode("utf-8"), None if documents is None else tuple(documents)
