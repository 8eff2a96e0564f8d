"""The string functions behind Flux's `${var<op>...}` forms (fluxcd/pkg envsubst funcs.go).

Values are UTF-8 `bytes` because Go strings are: `${#v}` counts bytes and `${v:1:2}` may
cut a character in half, exactly as the controller does. Patterns for `#`, `##`, `%`, `%%`
use the fork's `path.Match` (here `glob_match`), whose `*` also crosses `/`; suffix
removal reverses value *and pattern* rune by rune, so `[a-z]`-style classes break there,
as they do in Flux.

    lookup_func("//", 2)(b"a.b.c", [b".", b"-"])  # b"a-b-c"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = ["SlicePanic", "decode_rune", "glob_match", "lookup_func"]

SubstituteFunc = Callable[[bytes, Sequence[bytes]], bytes]

_RUNE_ERROR = "\ufffd"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(rb"[+-]?[0-9]+")


class SlicePanic(ValueError):
    """Go would panic here (`${v:0:-1}` slices out of range); str() is the runtime message."""


class _BadPattern(ValueError):
    """path.ErrBadPattern: the caller then leaves the value unchanged."""


def decode_rune(buf: bytes | bytearray, pos: int) -> tuple[str, int]:
    """Go's utf8.DecodeRune: an invalid or truncated sequence is U+FFFD of width 1."""
    first = buf[pos]
    if first < 0x80:
        return chr(first), 1
    width = 2 if first <= 0xDF else 3 if first <= 0xEF else 4
    if not 0xC2 <= first <= 0xF4 or pos + width > len(buf):
        return _RUNE_ERROR, 1
    try:
        return bytes(buf[pos : pos + width]).decode("utf-8"), width
    except UnicodeDecodeError:
        return _RUNE_ERROR, 1


def _runes(value: bytes) -> list[str]:
    """Go's []rune(s)."""
    try:
        return list(value.decode("utf-8"))
    except UnicodeDecodeError:
        out, pos = [], 0
        while pos < len(value):
            rune, width = decode_rune(value, pos)
            out.append(rune)
            pos += width
        return out


# --- case: Go's unicode.ToUpper/ToLower are simple (one rune to one rune) mappings ---


def _upper_rune(char: str) -> str:
    upper = char.upper()
    if len(upper) == 1:
        return upper
    title = char.title()  # e.g. U+1F80 upper is two runes, its simple mapping is the titlecase
    return title if len(title) == 1 else char


def _lower_rune(char: str) -> str:
    if char == "\u0130":  # the one rune whose full lowercase differs from the simple one
        return "i"
    lower = char.lower()
    return lower if len(lower) == 1 else char


def _map_runes(value: bytes, mapping: Callable[[str], str], first_only: bool) -> bytes:
    text = value.decode("utf-8", "surrogateescape")
    if not text:
        return value
    mapped = mapping(text[0]) + text[1:] if first_only else "".join(map(mapping, text))
    return mapped.encode("utf-8", "surrogateescape")


def _to_upper(value: bytes, args: Sequence[bytes]) -> bytes:
    return _map_runes(value, _upper_rune, first_only=False)


def _to_upper_first(value: bytes, args: Sequence[bytes]) -> bytes:
    return _map_runes(value, _upper_rune, first_only=True)


def _to_lower(value: bytes, args: Sequence[bytes]) -> bytes:
    return _map_runes(value, _lower_rune, first_only=False)


def _to_lower_first(value: bytes, args: Sequence[bytes]) -> bytes:
    return _map_runes(value, _lower_rune, first_only=True)


# --- length, default, substring ---


def _to_len(value: bytes, args: Sequence[bytes]) -> bytes:
    return str(len(value)).encode()


def _to_default(value: bytes, args: Sequence[bytes]) -> bytes:
    """Every default form: the arguments, joined, when the value is empty."""
    return b"".join(args) if not value and args else value


def _atoi(text: bytes) -> int | None:
    """strconv.Atoi: optional sign, ASCII digits, int64 range; else None."""
    if not _DECIMAL.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _wrap_int64(number: int) -> int:
    return (number - _INT64_MIN) % 2**64 + _INT64_MIN


def _to_substr(value: bytes, args: Sequence[bytes]) -> bytes:
    position = _atoi(args[0]) if args else None
    if position is None:
        return value  # bash returns the value when the offset does not parse
    if position < 0:
        position = max(len(value) + position, 0)
    if len(args) == 1:
        return value[position:]
    length = _atoi(args[1])
    if length is None:
        return value
    end = _wrap_int64(position + length)
    if end >= len(value):
        return value[position:]
    if end < 0:
        raise SlicePanic(f"runtime error: slice bounds out of range [:{end}]")
    if position > end:
        raise SlicePanic(f"runtime error: slice bounds out of range [{position}:{end}]")
    return value[position:end]


# --- replace ---


def _go_replace(value: bytes, old: bytes, new: bytes, count: int) -> bytes:
    """strings.Replace, including its rune-wise insertion when `old` is empty."""
    if old == new or count == 0:
        return value
    if old:
        return value.replace(old, new, count)
    slots = len(_runes(value)) + 1
    count = slots if count < 0 or slots < count else count
    out, start = bytearray(), 0
    for index in range(count):
        end = start + (decode_rune(value, start)[1] if index > 0 else 0)
        out += value[start:end] + new
        start = end
    return bytes(out + value[start:])


def _replace_first(value: bytes, args: Sequence[bytes]) -> bytes:
    if not args:
        return value
    return _go_replace(value, args[0], args[1] if len(args) > 1 else b"", 1)


def _replace_all(value: bytes, args: Sequence[bytes]) -> bytes:
    if not args:
        return value
    return _go_replace(value, args[0], args[1] if len(args) > 1 else b"", -1)


def _replace_prefix(value: bytes, args: Sequence[bytes]) -> bytes:
    """Needs both arguments: `${v/#pat/}` leaves the value unchanged."""
    if len(args) != 2 or not value.startswith(args[0]):
        return value
    return _go_replace(value, args[0], args[1], 1)


def _replace_suffix(value: bytes, args: Sequence[bytes]) -> bytes:
    if len(args) != 2 or not value.endswith(args[0]):
        return value
    return value[: len(value) - len(args[0])] + args[1]


# --- trim by pattern ---


def _reverse(value: bytes) -> bytes:
    return "".join(reversed(_runes(value))).encode("utf-8")


def _trim_shortest(value: bytes, pattern: bytes) -> bytes:
    shortest = b""
    for cut in range(len(value)):
        prefix = value[: len(value) - cut]
        try:
            if glob_match(pattern, prefix):
                shortest = prefix
        except _BadPattern:
            return value
    return value[len(shortest) :]


def _trim_longest(value: bytes, pattern: bytes) -> bytes:
    for cut in range(len(value)):
        prefix = value[: len(value) - cut]
        try:
            if glob_match(pattern, prefix):
                return value[len(prefix) :]
        except _BadPattern:
            return value
    return value


def _trim_shortest_prefix(value: bytes, args: Sequence[bytes]) -> bytes:
    return _trim_shortest(value, args[0]) if args else value


def _trim_longest_prefix(value: bytes, args: Sequence[bytes]) -> bytes:
    return _trim_longest(value, args[0]) if args else value


def _trim_shortest_suffix(value: bytes, args: Sequence[bytes]) -> bytes:
    return _reverse(_trim_shortest(_reverse(value), _reverse(args[0]))) if args else value


def _trim_longest_suffix(value: bytes, args: Sequence[bytes]) -> bytes:
    return _reverse(_trim_longest(_reverse(value), _reverse(args[0]))) if args else value


# --- path.Match as forked by Flux ---


def glob_match(pattern: bytes, name: bytes) -> bool:
    """Whole-name shell match: `*` (any run, '/' included), `?`, `[...]`, `\\` escapes."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True  # a trailing '*' matches the rest, whatever it holds
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if not star:
            return False
        for skip in range(len(name)):
            rest = _match_chunk(chunk, name[skip + 1 :])
            if rest is not None and not (not pattern and rest):
                name = rest
                break
        else:
            return False
    return not name


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    stripped = pattern.lstrip(b"*")
    star, pattern = len(stripped) != len(pattern), stripped
    in_range, index = False, 0
    while index < len(pattern):
        char = pattern[index : index + 1]
        if char == b"\\" and index + 1 < len(pattern):
            index += 1
        elif char == b"[":
            in_range = True
        elif char == b"]":
            in_range = False
        elif char == b"*" and not in_range:
            break
        index += 1
    return star, pattern[:index], pattern[index:]


def _match_chunk(chunk: bytes, name: bytes) -> bytes | None:
    """The rest of `name` after `chunk` matched its start, None if it did not."""
    while chunk:
        if not name:
            return None
        head = chunk[:1]
        if head == b"[":
            rune, width = decode_rune(name, 0)
            name, chunk = name[width:], chunk[1:]
            chunk, matched = _match_class(chunk, rune)
            if not matched:
                return None
        elif head == b"?":
            name, chunk = name[decode_rune(name, 0)[1] :], chunk[1:]
        else:
            if head == b"\\":
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPattern
            if chunk[0] != name[0]:
                return None
            name, chunk = name[1:], chunk[1:]
    return name


def _match_class(chunk: bytes, rune: str) -> tuple[bytes, bool]:
    """Consume `[^a-z...]` (after its '['); report whether `rune` is in it."""
    negated = chunk[:1] == b"^"
    if negated:
        chunk = chunk[1:]
    matched, ranges = False, 0
    while not (chunk[:1] == b"]" and ranges > 0):
        low, chunk = _class_char(chunk)
        high = low
        if chunk[:1] == b"-":
            high, chunk = _class_char(chunk[1:])
        matched = matched or low <= rune <= high
        ranges += 1
    return chunk[1:], matched != negated


def _class_char(chunk: bytes) -> tuple[str, bytes]:
    """getEsc: one possibly escaped rune of a class; the class must go on after it."""
    if not chunk or chunk[:1] in (b"-", b"]"):
        raise _BadPattern
    if chunk[:1] == b"\\":
        chunk = chunk[1:]
        if not chunk:
            raise _BadPattern
    rune, width = decode_rune(chunk, 0)
    if (rune == _RUNE_ERROR and width == 1) or len(chunk) == width:
        raise _BadPattern
    return rune, chunk[width:]


_FUNCS: dict[str, SubstituteFunc] = {
    ",": _to_lower_first,
    ",,": _to_lower,
    "^": _to_upper_first,
    "^^": _to_upper,
    "##": _trim_longest_prefix,
    "%": _trim_shortest_suffix,
    "%%": _trim_longest_suffix,
    ":": _to_substr,
    "/#": _replace_prefix,
    "/%": _replace_suffix,
    "/": _replace_first,
    "//": _replace_all,
}


def lookup_func(name: str, arg_count: int) -> SubstituteFunc:
    """Go's lookupFunc: unknown operators (all defaults, `^,`...) return the value or default."""
    if name == "#":
        return _to_len if arg_count == 0 else _trim_shortest_prefix
    return _FUNCS.get(name, _to_default)
