"""Flux's envsubst engine: a faithful port of fluxcd/pkg/envsubst (a drone/envsubst fork).

kustomize-controller runs this engine over every built resource, so any difference from
the Go code is a difference in what lands in the cluster. The port therefore keeps the Go
scanner's quirks rather than bash's rules, for example:

* only `${...}` expands; a bare `$var` is text; `$$` outside `${...}` is one `$`;
* `${v-d}`, `${v+d}` and `${v?d}` are parse errors ("missing closing brace");
* `${v:+d}` and `${v:?d}` act exactly like `${v:-d}`; `=`/`:=` never assign;
* `$$` and `\\/` are escapes only inside the `/pattern/replacement` of a replace form;
* lengths and substrings count UTF-8 bytes, as Go strings do.

The scanner works on UTF-8 bytes for the same reason. Evaluation errors carry Go's text.

    expand("image: ${repo:=nginx}:${tag}", lambda name: (env.get(name, ""), True))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fluxform.planner.kustomization.envsubst_funcs import SlicePanic, decode_rune, lookup_func

__all__ = ["EnvsubstError", "Mapper", "expand"]

#: name -> (value, exists). Non-strict callers answer (value or "", True) for every name.
Mapper = Callable[[str], tuple[str, bool]]


class EnvsubstError(ValueError):
    """Parse or evaluation failure; `str()` is Go's error text, `line` 1-based if known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


# Go's parse errors, verbatim.
_BAD_SUBSTITUTION = "bad substitution"
_MISSING_CLOSING_BRACE = "missing closing brace"
_PARSE_VARIABLE_NAME = "unable to parse variable name"
_PARSE_FUNC_SUBSTITUTION = "unable to parse substitution within function"
_PARSE_DEFAULT_FUNCTION = "unable to parse default function"

# Operators that handle an unset variable themselves, so strict mode lets them pass.
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})

_EOF = "\x00"  # Go's scanner uses rune 0 as end of input, so a NUL byte ends the text too.

# Tokens.
_TOK_ILLEGAL, _TOK_EOF, _TOK_IDENT, _TOK_LBRACK, _TOK_RBRACK = range(5)
# Scanner mode bits.
_SCAN_IDENT, _SCAN_LBRACK, _SCAN_RBRACK, _SCAN_ESCAPE = 1, 2, 4, 8
# Escape character bits.
_ESC_DOLLAR, _ESC_BACKSLASH = 1, 2
_ESC_ALL = _ESC_DOLLAR | _ESC_BACKSLASH

Accept = Callable[[str, int], bool]


# --- accept functions: (rune, byte offset of the scan after reading it) -> accepted ---


def _accept_rune(r: str, i: int) -> bool:
    return True


def _accept_ident(r: str, i: int) -> bool:
    return r.isalpha() or r.isdecimal() or r == "_"


def _accept_colon(r: str, i: int) -> bool:
    return r == ":"


def _accept_one_hash(r: str, i: int) -> bool:
    return r == "#" and i == 1


def _accept_not_closing(r: str, i: int) -> bool:
    return r != "}"


def _accept_hash_func(r: str, i: int) -> bool:
    return r == "#" and i < 3


def _accept_percent_func(r: str, i: int) -> bool:
    return r == "%" and i < 3


def _accept_default_func(r: str, i: int) -> bool:
    return (i == 1 and r == ":") or (i == 2 and r in "=-?+")


def _accept_replace_func(r: str, i: int) -> bool:
    return (i == 1 and r == "/") or (i == 2 and r in "/#%")


def _accept_one_equal(r: str, i: int) -> bool:
    return i == 1 and r == "="


def _accept_one_colon(r: str, i: int) -> bool:
    return i == 1 and r == ":"


def _reject_colon_close(r: str, i: int) -> bool:
    return r not in ":}"


def _accept_slash(r: str, i: int) -> bool:
    return r == "/"


def _accept_not_slash(r: str, i: int) -> bool:
    return r != "/"


def _accept_casing_func(r: str, i: int) -> bool:
    return r in ",^" and i < 3


class _Scanner:
    """parse/scan.go: a rune scanner whose mode and accept function the parser switches."""

    def __init__(self, buf: bytes) -> None:
        self.buf = bytearray(buf)
        self.pos = 0
        self.start = 0
        self.width = 0
        self.mode = 0
        self.escape_chars = 0
        self.accept: Accept = _accept_rune

    def read(self) -> str:
        if self.pos >= len(self.buf):
            self.width = 0
            return _EOF
        r, self.width = decode_rune(self.buf, self.pos)
        self.pos += self.width
        return r

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:
        """Drop the escape character just read; the escaped one after it is kept."""
        del self.buf[self.pos - 1]

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def text(self) -> bytes:
        return bytes(self.buf[self.start : self.pos])

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == _EOF:
            return _TOK_EOF
        if self._scan_lbrack(r):
            return _TOK_LBRACK
        if self._scan_rbrack(r):
            return _TOK_RBRACK
        if self._scan_ident(r):
            return _TOK_IDENT
        return _TOK_ILLEGAL

    def _scan_ident(self, r: str) -> bool:
        if not self.mode & _SCAN_IDENT:
            return False
        if self._scan_escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == _EOF:
                self.unread()
                return True
            if self._scan_lbrack(r):
                self.unread()
                self.unread()
                return True
            if self._scan_escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                return True

    def _scan_lbrack(self, r: str) -> bool:
        if not self.mode & _SCAN_LBRACK or r != "$":
            return False
        if self.read() == "{":
            return True
        self.unread()
        return False

    def _scan_rbrack(self, r: str) -> bool:
        return bool(self.mode & _SCAN_RBRACK) and r == "}"

    def _scan_escaped(self, r: str) -> bool:
        if not self.mode & _SCAN_ESCAPE:
            return False
        if r == "$" and self.escape_chars & _ESC_DOLLAR and self.peek() == "$":
            return True
        if r == "\\" and self.escape_chars & _ESC_BACKSLASH:
            return self.peek() in ("/", "\\")
        return False


# --- parse tree ---


@dataclass(frozen=True, slots=True)
class _Text:
    value: bytes


@dataclass(frozen=True, slots=True)
class _Func:
    param: str  # variable name
    name: str  # operator: "" for ${v}, ":-", "//", "#", ...
    args: tuple[_Node, ...]
    line: int  # where its "${" starts, for messages


_Node = _Text | _Func

# Top-level text runs to the next "$" (a possible "${" or "$$") or NUL.
_TEXT_STOP = re.compile(rb"[$\x00]")


class _Parser:
    """parse/parse.go, with the top-level recursion turned into a loop."""

    def __init__(self, text: bytes) -> None:
        self.s = _Scanner(text)
        self._line_pos = 0
        self._line_no = 1
        self._func_line = 1  # line of the innermost "${" being parsed, for messages

    def parse(self) -> list[_Node]:
        nodes: list[_Node] = []
        s = self.s
        while True:
            if s.pos >= len(s.buf) or s.buf[s.pos] == 0:
                return nodes
            if s.buf[s.pos : s.pos + 2] == b"${":
                s.pos += 2
                nodes.append(self._parse_func())
            else:
                nodes.append(_Text(self._top_level_text()))

    def _top_level_text(self) -> bytes:
        """The text token of parseAny (accept any rune, `$$` escapes), found quickly."""
        buf, pos, out = self.s.buf, self.s.pos, bytearray()
        while True:
            found = _TEXT_STOP.search(buf, pos)
            end = len(buf) if found is None else found.start()
            out += buf[pos:end]
            pos = end
            if found is None or buf[end] == 0 or buf[end + 1 : end + 2] == b"{":
                break
            pos = end + 2 if buf[end + 1 : end + 2] == b"$" else end + 1
            out += b"$"
        self.s.pos = pos
        return bytes(out)

    def _line_at(self, pos: int) -> int:
        if pos < self._line_pos:
            self._line_pos, self._line_no = 0, 1
        self._line_no += self.s.buf.count(b"\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line_no

    def _error(self, message: str) -> EnvsubstError:
        return EnvsubstError(message, self._func_line)

    def _parse_func(self) -> _Func:
        outer_line = self._func_line
        self._func_line = self._line_at(self.s.pos)
        node = self._parse_func_body(self._func_line)
        self._func_line = outer_line
        return node

    def _parse_func_body(self, line: int) -> _Func:
        s = self.s
        s.escape_chars = _ESC_ALL
        if s.peek() == "#":
            return self._parse_len_func(line)
        s.accept, s.mode = _accept_ident, _SCAN_IDENT
        if s.scan() != _TOK_IDENT:
            raise self._error(_PARSE_VARIABLE_NAME)
        name = s.text().decode("utf-8", "surrogateescape")
        following = s.peek()
        if following == ":":
            return self._parse_default_or_substr(name, line)
        if following == "=":
            return self._parse_default_func(name, line)
        if following in (",", "^"):
            return self._parse_op_only(name, _accept_casing_func, line)
        if following == "/":
            return self._parse_replace_func(name, line)
        if following in ("#", "%"):
            accept = _accept_hash_func if following == "#" else _accept_percent_func
            return self._parse_remove_func(name, accept, line)
        s.accept, s.mode = _accept_ident, _SCAN_RBRACK
        if s.scan() != _TOK_RBRACK:
            raise self._error(_MISSING_CLOSING_BRACE)
        return _Func(name, "", (), line)

    def _parse_param(self, accept: Accept, mode: int) -> _Node:
        s = self.s
        s.accept, s.mode = accept, mode | _SCAN_LBRACK
        token = s.scan()
        if token == _TOK_LBRACK:
            return self._parse_func()
        if token in (_TOK_IDENT, _TOK_RBRACK):
            return _Text(s.text())
        raise self._error(_PARSE_FUNC_SUBSTITUTION)

    def _scan_operator(self, accept: Accept, error: str = _BAD_SUBSTITUTION) -> str:
        s = self.s
        s.accept, s.mode = accept, _SCAN_IDENT
        if s.scan() != _TOK_IDENT:
            raise self._error(error)
        return s.text().decode("utf-8", "surrogateescape")

    def _parse_default_or_substr(self, name: str, line: int) -> _Func:
        s = self.s
        # Go reads ':' then peeks and unreads with the *peeked* rune's width; kept as is.
        s.read()
        following = s.peek()
        s.unread()
        if following in ("=", "-", "?", "+"):
            return self._parse_default_func(name, line)
        return self._parse_substr_func(name, line)

    def _parse_substr_func(self, name: str, line: int) -> _Func:
        s = self.s
        op = self._scan_operator(_accept_one_colon)
        args = [self._parse_param(_reject_colon_close, _SCAN_IDENT)]
        s.accept, s.mode = _accept_colon, _SCAN_IDENT | _SCAN_RBRACK
        token = s.scan()
        if token == _TOK_RBRACK:
            return _Func(name, op, tuple(args), line)
        if token != _TOK_IDENT:
            raise self._error(_BAD_SUBSTITUTION)
        args.append(self._parse_param(_accept_not_closing, _SCAN_IDENT))
        self._consume_rbrack()
        return _Func(name, op, tuple(args), line)

    def _parse_remove_func(self, name: str, accept: Accept, line: int) -> _Func:
        op = self._scan_operator(accept)
        arg = self._parse_param(_accept_not_closing, _SCAN_IDENT)
        self._consume_rbrack()
        return _Func(name, op, (arg,), line)

    def _parse_replace_func(self, name: str, line: int) -> _Func:
        op = self._scan_operator(_accept_replace_func)
        args = [self._parse_param(_accept_not_slash, _SCAN_IDENT | _SCAN_ESCAPE)]
        self._scan_operator(_accept_slash)  # the delimiter (any run of '/')
        if self.s.peek() != "}":
            args.append(self._parse_param(_accept_not_closing, _SCAN_IDENT | _SCAN_ESCAPE))
        self._consume_rbrack()
        return _Func(name, op, tuple(args), line)

    def _parse_default_func(self, name: str, line: int) -> _Func:
        accept = _accept_one_equal if self.s.peek() == "=" else _accept_default_func
        op = self._scan_operator(accept, _PARSE_DEFAULT_FUNCTION)
        args: list[_Node] = []
        while self.s.peek() != "}":
            args.append(self._parse_param(_accept_not_closing, _SCAN_IDENT))
        self._consume_rbrack()
        return _Func(name, op, tuple(args), line)

    def _parse_op_only(self, name: str, accept: Accept, line: int) -> _Func:
        op = self._scan_operator(accept)
        self._consume_rbrack()
        return _Func(name, op, (), line)

    def _parse_len_func(self, line: int) -> _Func:
        op = self._scan_operator(_accept_one_hash)
        param = self._scan_operator(_accept_ident)
        self._consume_rbrack()
        return _Func(param, op, (), line)

    def _consume_rbrack(self) -> None:
        self.s.mode = _SCAN_RBRACK
        if self.s.scan() != _TOK_RBRACK:
            raise self._error(_BAD_SUBSTITUTION)


def _evaluate(nodes: Sequence[_Node], mapper: Mapper) -> bytes:
    return b"".join(_evaluate_node(node, mapper) for node in nodes)


def _evaluate_node(node: _Node, mapper: Mapper) -> bytes:
    if isinstance(node, _Text):
        return node.value
    # Go evaluates the arguments first, so their errors win even when unused.
    args = [_evaluate_node(arg, mapper) for arg in node.args]
    value, exists = mapper(node.param)
    if not exists and node.name not in _DEFAULT_OPS:
        raise EnvsubstError(f'variable not set (strict mode): "{node.param}"', node.line)
    try:
        return lookup_func(node.name, len(args))(_to_bytes(value), args)
    except SlicePanic as err:
        raise EnvsubstError(f"panic: {err}", node.line) from None


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as err:
        raise EnvsubstError("text is not valid UTF-8") from err


def expand(text: str, mapper: Mapper) -> str:
    """Substitute every `${...}` in `text`; raises EnvsubstError like Go's Eval.

    Output bytes that are not valid UTF-8 (a substring cut inside a character) come back
    as surrogate escapes, so `str.encode("utf-8", "surrogateescape")` restores Go's bytes.
    """
    try:
        nodes = _Parser(_to_bytes(text)).parse()
        return _evaluate(nodes, mapper).decode("utf-8", "surrogateescape")
    except RecursionError:
        raise EnvsubstError("${...} expressions nested too deeply") from None
