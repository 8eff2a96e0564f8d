"""Documents (`-o json` / `-o yaml`) as every command prints them: JSON with two-space
indents and the document's own key order, YAML the same data, so a script may switch
between them freely.

    click.echo(render_document({"kind": "fluxform-get", "items": []}, "yaml"), nl=False)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fluxform import yamlio

__all__ = ["render_document"]


def render_document(document: Mapping[str, Any], output: str) -> str:
    """`document` as "json" or "yaml" text, ending in one newline."""
    if output == "json":
        return json.dumps(document, indent=2) + "\n"
    if output == "yaml":
        return yamlio.dump(dict(document), sort_keys=False)
    raise ValueError(f"not a document format: {output}")
