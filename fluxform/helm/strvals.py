"""Helm's `--set` parser (helm.sh/helm/v4 pkg/strvals), ported for `valuesFrom.targetPath`.

Flux sets a targetPath value by handing `"<targetPath>=<raw value>"` to strvals.ParseInto,
which parses *into an existing map*, mutating nested maps in place. The Helm SDK wheel only
exposes the parse-into-a-new-map variants, and Flux's values composition depends on that
in-place mutation (inline values are aliased, see values.py), so the parser is ported
here line for line; tests compare it with the SDK's own parser on fresh maps.

    values = {"a": {"b": 1}}
    parse_into("a.c=true,list[1]=x", values)  # {"a": {"b": 1, "c": True}, "list": [None, "x"]}

Quirks kept on purpose: a value containing `,` starts a new assignment; `{a,b}` is a list;
an existing non-map (or null) where the path needs a map raises (Go panics and recovers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["MAX_INDEX", "MAX_NESTED_NAME_LEVEL", "StrvalsError", "parse_into", "parse_into_string"]

MAX_INDEX = 65536
MAX_NESTED_NAME_LEVEL = 30
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class StrvalsError(ValueError):
    """The expression could not be parsed (Helm's own message)."""


class _EOF(Exception):
    """End of input (Go's io.EOF)."""


class _NotList(Exception):
    """Value is not a `{...}` list (strvals.ErrNotList)."""


def parse_into(expression: str, dest: dict[str, Any]) -> None:
    """strvals.ParseInto: typed values (`true`, `1`, `null` become bool/int/None)."""
    _Parser(expression, dest, lambda runes: _typed_value(runes, False)).parse()


def parse_into_string(expression: str, dest: dict[str, Any]) -> None:
    """strvals.ParseIntoString: every value stays a string."""
    _Parser(expression, dest, lambda runes: _typed_value(runes, True)).parse()


def _typed_value(text: str, as_string: bool) -> Any:
    if as_string:
        return text
    lowered = text.casefold()  # Go strings.EqualFold
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if lowered == "null":
        return None
    if text == "0":
        return 0
    if text and text[0] != "0":
        parsed = _parse_int64(text)
        if parsed is not None:
            return parsed
    return text


def _parse_int64(text: str) -> int | None:
    """Go strconv.ParseInt(s, 10, 64): optional sign, ASCII digits only, in range."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not all("0" <= ch <= "9" for ch in body):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _go_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "string"


def _expect_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StrvalsError(
            f"unable to parse key: interface conversion: interface {{}} is {_go_type(value)}, "
            "not map[string]interface {}"
        )
    return value


def _expect_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise StrvalsError(
            f"unable to parse key: interface conversion: interface {{}} is {_go_type(value)}, not []interface {{}}"
        )
    return value


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    if key != "":
        data[key] = value


def _set_index(items: list[Any], index: int, value: Any) -> list[Any]:
    if index < 0:
        raise StrvalsError(f"negative {index} index not allowed")
    if index > MAX_INDEX:
        raise StrvalsError(f"index of {index} is greater than maximum supported index of {MAX_INDEX}")
    if len(items) <= index:
        items = items + [None] * (index + 1 - len(items))
    items[index] = value
    return items


class _Parser:
    """One pass over the expression; `reader` turns value runes into a value."""

    def __init__(self, text: str, data: dict[str, Any], reader: Callable[[str], Any]) -> None:
        self._text = text
        self._pos = 0
        self._data = data
        self._reader = reader

    def parse(self) -> None:
        while True:
            try:
                self._key(self._data, 0)
            except _EOF:
                return

    # -- scanning ------------------------------------------------------------------------

    def _read(self) -> str:
        if self._pos >= len(self._text):
            raise _EOF
        ch = self._text[self._pos]
        self._pos += 1
        return ch

    def _until(self, stop: str) -> tuple[str, str | None]:
        """runesUntil: returns (runes, stop rune); at end of input raises _EOFWith."""
        out: list[str] = []
        while True:
            if self._pos >= len(self._text):
                raise _EOFWith("".join(out))
            ch = self._text[self._pos]
            self._pos += 1
            if ch in stop:
                return "".join(out), ch
            if ch == "\\":
                if self._pos >= len(self._text):
                    raise _EOFWith("".join(out))
                out.append(self._text[self._pos])
                self._pos += 1
            else:
                out.append(ch)

    # -- grammar -------------------------------------------------------------------------

    def _key(self, data: dict[str, Any], level: int) -> None:
        try:
            key, last = self._until("=[,.")
        except _EOFWith as eof:
            if not eof.runes:
                raise _EOF from None
            raise StrvalsError(f'key "{eof.runes}" has no value') from None
        if last == "[":
            self._key_list(data, key, level)
        elif last == "=":
            self._key_value(data, key)
        elif last == ",":
            _set(data, key, "")
            raise StrvalsError(f'key "{key}" has no value (cannot end with ,)')
        else:
            self._key_map(data, key, level)

    def _key_list(self, data: dict[str, Any], key: str, level: int) -> None:
        index = self._index()
        items = _expect_list(data[key]) if key in data else []
        try:
            items = self._list_item(items, index, level)
        finally:
            _set(data, key, items)

    def _key_value(self, data: dict[str, Any], key: str) -> None:
        try:
            values = self._value_list()
        except _EOF:
            _set(data, key, "")
            raise
        except _NotList:
            runes = self._value()
            _set(data, key, self._reader(runes))  # Go returns the reader's nil even at EOF
            return
        _set(data, key, values)

    def _key_map(self, data: dict[str, Any], key: str, level: int) -> None:
        level += 1
        if level > MAX_NESTED_NAME_LEVEL:
            raise StrvalsError(
                f"value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
            )
        inner = _expect_map(data[key]) if key in data else {}
        try:
            self._key(inner, level)
        except (_EOF, StrvalsError):
            if inner:
                _set(data, key, inner)
            raise
        if not inner:
            raise StrvalsError(f'key map "{key}" has no value')
        _set(data, key, inner)

    def _index(self) -> int:
        try:
            runes, _ = self._until("]")
        except _EOFWith:
            raise _EOF from None  # Go wraps io.EOF with %w, and parse() treats it as the end
        number = _parse_int64(runes)
        if number is None:
            raise StrvalsError(f'error parsing index: strconv.Atoi: parsing "{runes}": invalid syntax')
        return number

    def _list_item(self, items: list[Any], index: int, level: int) -> list[Any]:
        if index < 0:
            raise StrvalsError(f"negative {index} index not allowed")
        try:
            runes, last = self._until("[.=")
        except _EOFWith as eof:
            if eof.runes:
                raise StrvalsError(f'unexpected data at end of array index: "{eof.runes}"') from None
            raise _EOF from None
        if runes:
            raise StrvalsError(f'unexpected data at end of array index: "{runes}"')
        if last == "=":
            return self._list_value(items, index)
        if last == "[":
            return self._nested_list(items, index, level)
        return self._list_map(items, index, level)

    def _list_value(self, items: list[Any], index: int) -> list[Any]:
        try:
            values = self._value_list()
        except _EOF:
            return _set_index(items, index, "")
        except _NotList:
            return _set_index(items, index, self._reader(self._value()))
        return _set_index(items, index, values)

    def _nested_list(self, items: list[Any], index: int, level: int) -> list[Any]:
        next_index = self._index()
        current: list[Any] = []
        if len(items) > index and items[index] is not None:
            current = _expect_list(items[index])
        inner = self._list_item(current, next_index, level)
        return _set_index(items, index, inner)

    def _list_map(self, items: list[Any], index: int, level: int) -> list[Any]:
        inner: dict[str, Any] = {}
        if len(items) > index:
            if isinstance(items[index], dict):
                inner = items[index]
            else:
                items[index] = inner
        self._key(inner, level)
        return _set_index(items, index, inner)

    def _value(self) -> str:
        """Runes up to the next `,` or the end of input."""
        try:
            runes, _ = self._until(",")
        except _EOFWith as eof:
            return eof.runes
        return runes

    def _value_list(self) -> list[Any]:
        if self._pos >= len(self._text):
            raise _EOF
        if self._text[self._pos] != "{":
            raise _NotList
        self._pos += 1
        items: list[Any] = []
        while True:
            try:
                runes, last = self._until(",}")
            except _EOFWith:
                raise StrvalsError("list must terminate with '}'") from None
            if last == "}":
                if self._pos < len(self._text) and self._text[self._pos] == ",":
                    self._pos += 1
                items.append(self._reader(runes))
                return items
            items.append(self._reader(runes))


class _EOFWith(Exception):
    """End of input inside runesUntil, carrying the runes read so far."""

    def __init__(self, runes: str) -> None:
        super().__init__(runes)
        self.runes = runes
