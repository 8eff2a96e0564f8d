"""Every value sops decrypted in this run, so no message built from values can show one.

Errors and warnings are built far from decryption (a Helm schema check quotes the value
that failed `pattern`, kustomize quotes a bad line of a decrypted `.env`, a YAML parser
quotes an alias name that a substituted value started). Rather than trusting each of them,
`SopsSession` records what each decryption revealed (`revealed_values`: the values that
were `ENC[...]` before and the lines that changed), and `Plaintexts.scrub` masks them in any
message on its way out, together with the forms a tool may print them in (JSON-escaped,
base64, Go's byte-slice `[104 117 ...]`, without a leading YAML indicator). Arbitrary
fragments are not matched: ordinary words inside a value ("production") would be masked in
every message.

    plaintexts.add(revealed_values(cipher, plain, SopsFormat.YAML, SopsFormat.JSON))
    line = plaintexts.scrub(error_line, masker)
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from fluxform import yamlio
from fluxform.decrypt.formats import SopsFormat
from fluxform.decrypt.mask import Masker

__all__ = ["Plaintexts", "revealed_values"]

_ENC = "ENC["
#: Characters YAML reads as syntax at the start of a plain scalar.
_INDICATORS = "*&!%@|>`'\" \t"


def revealed_values(cipher: bytes, plain: bytes, input_fmt: SopsFormat, output_fmt: SopsFormat) -> set[str]:
    """What decrypting `cipher` into `plain` revealed: for structured documents the leaves
    that were `ENC[...]`, for the others (dotenv, ini, binary) the lines that changed and
    their values. Over-inclusive by design: a plain field listed here is only masked."""
    structured = (SopsFormat.YAML, SopsFormat.JSON)
    if input_fmt in structured and output_fmt in structured:
        try:
            found = set(_encrypted_leaves(_parse(cipher), _parse(plain)))
        except (ValueError, yamlio.YamlError):
            found = set()
        if found:
            return _with_lines(found)
    return _with_lines(set(_changed_lines(cipher, plain)))


def _parse(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return yamlio.load(data)


def _encrypted_leaves(cipher: Any, plain: Any) -> Iterator[str]:
    if isinstance(cipher, str):
        if cipher.startswith(_ENC) and not isinstance(plain, dict | list):
            yield plain if isinstance(plain, str) else json.dumps(plain)
    elif isinstance(cipher, dict) and isinstance(plain, dict):
        for key, value in cipher.items():
            if key != "sops" and key in plain:
                yield from _encrypted_leaves(value, plain[key])
    elif isinstance(cipher, list) and isinstance(plain, list):
        for before, after in zip(cipher, plain, strict=False):
            yield from _encrypted_leaves(before, after)


def _changed_lines(cipher: bytes, plain: bytes) -> Iterator[str]:
    """Lines of `plain` not in `cipher`, their values after `=` or `: `, and the Go byte
    lists of both as kustomize prints a line it cannot read (`[255 254 84 ...]`); from the
    raw bytes, since a line that is not UTF-8 is exactly the one such a message quotes."""
    before = set(cipher.splitlines())
    for raw in plain.splitlines():
        if raw in before or not raw.strip():
            continue
        yield raw.strip().decode("utf-8", "replace")
        yield _go_bytes(raw)
        for separator in (b"=", b": "):
            _, found, value = raw.partition(separator)
            if found and value.strip():
                yield value.strip().strip(b"\"'").decode("utf-8", "replace")
                yield _go_bytes(value)
                break


def _go_bytes(raw: bytes) -> str:
    return " ".join(str(b) for b in raw)


def _with_lines(values: set[str]) -> set[str]:
    """Multi-line values also as their single lines (a message quotes one)."""
    out = set(values)
    for value in values:
        out.update(line.strip() for line in value.splitlines() if line.strip())
    return out


def _forms(value: str) -> set[str]:
    """The ways a message may print `value`: as it is, without the YAML indicator a parser
    took for syntax (`*name` is reported as alias `name`), JSON-escaped, base64, Go bytes."""
    raw = value.encode("utf-8", "replace")
    return {
        value,
        value.lstrip(_INDICATORS).strip(),
        json.dumps(value)[1:-1],
        base64.b64encode(raw).decode(),
        _go_bytes(raw),  # Go's %v of a []byte, as kustomize quotes a bad .env line
        repr(value)[1:-1],
    }


class Plaintexts:
    """A thread-safe set of revealed values (sops runs from a pool)."""

    def __init__(self) -> None:
        self._forms: dict[str, list[str]] = {}  # value -> its printed forms, longest first
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        new = {v: sorted((f for f in _forms(v) if len(f) >= 4), key=len, reverse=True) for v in values if len(v) >= 4}
        with self._lock:
            self._forms.update(new)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def scrub(self, text: str, masker: Masker) -> str:
        """`text` with every revealed value, in any of its printed forms, replaced by the
        value's fingerprint."""
        if not text:
            return text
        with self._lock:
            values = sorted(self._forms.items(), key=lambda item: len(item[0]), reverse=True)
        for value, forms in values:
            for form in forms:
                if form in text:
                    text = text.replace(form, masker.mask_value(value))
        return text
