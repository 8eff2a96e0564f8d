"""YAML as the Go side of Flux reads and writes it.

What reaches the API server is what Go's YAML 1.1 decoder (go-yaml v2, behind
sigs.k8s.io/yaml and kubectl) makes of a document, not what PyYAML's defaults make of it:

* booleans include `y`, `Y`, `n`, `N` besides yes/no/on/off/true/false;
* `1e3` is a float, `1:30` is a string (no sexagesimal numbers), `0777` is octal,
  `0o17`/`0x1F`/`0b101` are ints, `_` inside numbers is ignored;
* timestamps are left as the strings they were written as;
* an anchor may be re-defined (the later definition wins), `<<` merge keys work.

Loading is also made safe: no Python tags, and a bound on alias expansion so a
"billion laughs" document is an error rather than an out-of-memory. The dumper quotes any
string that Go would read back as something else, so our output round-trips through kubectl.

Speed: libyaml (PyYAML's C parser and emitter) does the scanning, parsing and emitting, and
is required (importing this module without it is an error saying how to fix it). The same
bytes are parsed once per run: `load_all` keeps what it parsed, content-addressed, and hands
out copies (`parses` counts real parses, for tests).

    docs = load_all(text, origin="apps/base/deploy.yaml")
    text = dump_all(docs)
"""

from __future__ import annotations

import collections
import hashlib
import re
import struct
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.representer import SafeRepresenter
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from fluxform.errors import FluxformError

if not yaml.__with_libyaml__:  # checked on first use of YAML, before any work: one clear line
    raise FluxformError(
        "PyYAML was installed without libyaml, its C parser and emitter, which fluxform needs",
        hint="pip install --force-reinstall pyyaml (the PyPI wheels include it), or install libyaml's "
        "headers (libyaml-dev) before building PyYAML",
    )

from yaml.cyaml import CEmitter, CParser  # type: ignore[attr-defined]

__all__ = [
    "MAX_EXPANDED_NODES",
    "YamlError",
    "check_alias_expansion",
    "clone",
    "dump",
    "dump_all",
    "duplicate_keys",
    "load",
    "load_all",
    "parses",
]

#: Nodes a document may expand to through aliases; far above any real manifest (a large
#: CRD is ~100k nodes), far below what exhausts memory.
MAX_EXPANDED_NODES = 5_000_000


class YamlError(ValueError):
    """A YAML document could not be parsed; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


_BOOL_TRUE = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")
_BOOL_FALSE = ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")
_BOOL_RE = re.compile("^(?:" + "|".join(_BOOL_TRUE + _BOOL_FALSE) + ")$")
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
# Go strconv.ParseInt(s, 0, 64) after removing '_': decimal, 0x, 0o, 0b, leading-0 octal.
_INT_RE = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$")
# go-yaml v2 yamlStyleFloat plus the special '.'-led values.
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class GoResolver(BaseResolver):
    """Implicit tags as go-yaml v2 resolves plain scalars into interface{} values."""


GoResolver.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_RE, list("yYnNtTfFoO"))
GoResolver.add_implicit_resolver("tag:yaml.org,2002:null", _NULL_RE, ["~", "n", "N", ""])
GoResolver.add_implicit_resolver("tag:yaml.org,2002:int", _INT_RE, list("-+0123456789"))
GoResolver.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_RE, list("-+0123456789."))
GoResolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
# Timestamps load as the strings they are (constructor below), but the dumper must quote a
# date-like string, or kustomize (yaml.v3) would turn "2001-12-14" into a timestamp.
GoResolver.add_implicit_resolver(
    "tag:yaml.org,2002:timestamp",
    re.compile(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
        r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
        r"(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?"
        r"(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    ),
    list("0123456789"),
)


def _parse_go_int(text: str) -> int:
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    lowered = digits.lower()
    if lowered.startswith(("0x", "0o", "0b")):
        return sign * int(digits, 0)
    if len(digits) > 1 and digits.startswith("0"):
        if all(c in "01234567" for c in digits):
            return sign * int(digits, 8)
        raise ValueError(text)
    return sign * int(digits, 10)


def _go_float32_key(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 32), how sigs.k8s.io/yaml writes a float key."""
    packed = struct.pack("<f", value)
    digits = next(f"{value:.{p}e}" for p in range(0, 10) if struct.pack("<f", float(f"{value:.{p}e}")) == packed)
    mantissa, exponent = digits.split("e")
    exp = int(exponent)
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    if exp < -4 or exp >= 21 or (exp >= 6 and len(mantissa.replace(".", "").lstrip("-")) <= exp):
        return f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    return repr(float(f"{mantissa}e{exp}")).removesuffix(".0")


def _json_key(key: Any) -> Any:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float32_key(key)
    return key


class GoConstructor(SafeConstructor):
    """SafeConstructor with Go's scalar meanings; timestamps stay strings."""

    def construct_go_bool(self, node: ScalarNode) -> bool:
        return str(node.value) in _BOOL_TRUE

    def construct_go_int(self, node: ScalarNode) -> int | float | str:
        value = str(node.value)
        try:
            return _parse_go_int(value)
        except ValueError:
            # e.g. "09": not an int for Go either; Go then tries it as a float.
            if _FLOAT_RE.match(value):
                return float(value.replace("_", ""))
            return value

    def construct_go_float(self, node: ScalarNode) -> float:
        value = str(node.value).replace("_", "")
        lowered = value.lower()
        if lowered in (".inf", "+.inf"):
            return float("inf")
        if lowered == "-.inf":
            return float("-inf")
        if lowered == ".nan":
            return float("nan")
        return float(value)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Keys become strings as sigs.k8s.io/yaml makes them for JSON (`y:` -> "true")."""
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            raw_key = self.construct_object(key_node, deep=deep)
            if raw_key is None:
                raise yaml.constructor.ConstructorError(None, None, "null mapping key", key_node.start_mark)
            key = _json_key(raw_key)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, "unsupported mapping key type", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_go_binary(self, node: ScalarNode) -> str:
        """go-yaml decodes !!binary into interface{} as the decoded bytes' string."""
        raw = SafeConstructor.construct_yaml_binary(self, node)
        return raw.decode("utf-8", "replace")

    def construct_go_set(self, node: MappingNode) -> dict[str, Any]:
        return {k: None for k in self.construct_mapping(node)}

    def construct_go_pairs(self, node: Node) -> list[dict[str, Any]]:
        if not isinstance(node, SequenceNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a sequence of pairs", node.start_mark)
        out: list[dict[str, Any]] = []
        for item in node.value:
            if not isinstance(item, MappingNode):
                raise yaml.constructor.ConstructorError(None, None, "expected a single-key mapping", item.start_mark)
            out.append(self.construct_mapping(item, deep=True))
        return out

    def construct_undefined(self, node: Node) -> Any:
        raise yaml.constructor.ConstructorError(None, None, f"unsupported YAML tag {node.tag!r}", node.start_mark)


_CONSTRUCTORS: list[tuple[str | None, Any]] = [
    ("tag:yaml.org,2002:bool", GoConstructor.construct_go_bool),
    ("tag:yaml.org,2002:int", GoConstructor.construct_go_int),
    ("tag:yaml.org,2002:float", GoConstructor.construct_go_float),
    ("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str),
    ("tag:yaml.org,2002:binary", GoConstructor.construct_go_binary),
    ("tag:yaml.org,2002:set", GoConstructor.construct_go_set),
    ("tag:yaml.org,2002:omap", GoConstructor.construct_go_pairs),
    ("tag:yaml.org,2002:pairs", GoConstructor.construct_go_pairs),
    (None, GoConstructor.construct_undefined),
]
for _tag, _fn in _CONSTRUCTORS:
    GoConstructor.add_constructor(_tag, _fn)


class GoComposer(Composer):
    """Composer that lets a later anchor of the same name replace an earlier one (Go does)."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[attr-defined]
        if not isinstance(event, yaml.events.AliasEvent):
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                self.anchors.pop(anchor, None)
        return super().compose_node(parent, index)


class GoLoader(Reader, Scanner, Parser, GoComposer, GoConstructor, GoResolver):
    def __init__(self, stream: str | bytes) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        GoComposer.__init__(self)
        GoConstructor.__init__(self)
        GoResolver.__init__(self)


class GoRepresenter(SafeRepresenter):
    def represent_str_block_aware(self, data: str) -> ScalarNode:
        if any(c in data for c in "\x85\u2028\u2029"):
            # YAML 1.1 readers (PyYAML, go-yaml v2) fold these line breaks unless escaped
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        if "\n" in data:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return self.represent_str(data)


GoRepresenter.add_representer(str, GoRepresenter.represent_str_block_aware)


class GoDumper(CEmitter, GoRepresenter, GoResolver):
    """libyaml's emitter with our representer; its plain-scalar check uses Go's resolver, so
    `"y"` and `"1e3"` get quoted."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        CEmitter.__init__(
            self,
            stream,
            canonical=kwargs.get("canonical"),
            indent=kwargs.get("indent"),
            width=kwargs.get("width"),
            allow_unicode=kwargs.get("allow_unicode"),
            line_break=kwargs.get("line_break"),
            encoding=kwargs.get("encoding"),
            explicit_start=kwargs.get("explicit_start"),
            explicit_end=kwargs.get("explicit_end"),
            version=kwargs.get("version"),
            tags=kwargs.get("tags"),
        )
        GoRepresenter.__init__(
            self,
            default_style=kwargs.get("default_style"),
            default_flow_style=kwargs.get("default_flow_style", False),
            sort_keys=kwargs.get("sort_keys", True),
        )
        GoResolver.__init__(self)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _expanded_size(node: Node, memo: dict[int, int], depth: int = 0) -> int:
    """Node count after expanding aliases, memoised so shared subtrees cost once to count."""
    key = id(node)
    if key in memo:
        return memo[key]
    if depth > 1000:
        raise YamlError("YAML nesting deeper than 1000 levels")
    memo[key] = 1  # cycles (recursive aliases) count once instead of looping
    size = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, depth + 1)
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, depth + 1) + _expanded_size(v, memo, depth + 1)
    memo[key] = size
    return size


def _error_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return None if mark is None else int(mark.line) + 1


def _describe(exc: yaml.YAMLError) -> str:
    """`<problem> at line L, column C` without PyYAML's stream names and source excerpts."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    return text


class LenientGoLoader(GoLoader):
    """Unknown tags (`!include`, `!secret`) read as the plain node, as kustomize's parser does."""

    def construct_undefined(self, node: Node) -> Any:
        if isinstance(node, MappingNode):
            return self.construct_mapping(node)
        if isinstance(node, SequenceNode):
            return self.construct_sequence(node)
        return str(node.value)


_LENIENT: Any = LenientGoLoader
_LENIENT.add_constructor(None, LenientGoLoader.construct_undefined)


class GoCLoader(CParser, GoConstructor, GoResolver):
    """libyaml's scanner/parser/composer with our resolver and constructor: same values,
    several times faster. libyaml refuses a re-defined anchor; load_all then falls back."""

    def __init__(self, stream: str | bytes) -> None:
        CParser.__init__(self, stream)
        GoConstructor.__init__(self)
        GoResolver.__init__(self)


class LenientGoCLoader(GoCLoader):
    construct_undefined = LenientGoLoader.construct_undefined


_LENIENT_C: Any = LenientGoCLoader
_LENIENT_C.add_constructor(None, LenientGoLoader.construct_undefined)


class _ParseMemo:
    """What load_all parsed, by content digest, kept up to a total of source bytes (oldest
    dropped first). Content-addressed, so never stale; values are handed out as copies."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.parses = 0
        self._entries: collections.OrderedDict[tuple[bytes, str], tuple[int, list[Any]]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, str]) -> list[Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
        docs: list[Any] = clone(found[1])
        return docs

    def put(self, key: tuple[bytes, str], size: int, docs: list[Any]) -> None:
        with self._lock:
            self.parses += 1
            if size > self.budget // 4:
                return
            if key in self._entries:
                return
            self._entries[key] = (size, clone(docs))
            self.size += size
            while self.size > self.budget:
                _, (dropped, _) = self._entries.popitem(last=False)
                self.size -= dropped


_MEMO = _ParseMemo(32 << 20)


def parses() -> int:
    """YAML texts really parsed so far in this process (not answered from the memo)."""
    return _MEMO.parses


def clone(value: Any) -> Any:
    """A deep copy of parsed YAML or JSON (mappings, lists, tuples and scalars), several times
    faster than copy.deepcopy: a value handed out must never share a mutable part with another."""
    if isinstance(value, dict):
        return {k: clone(v) if isinstance(v, _CONTAINERS) else v for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) if isinstance(v, _CONTAINERS) else v for v in value]
    if isinstance(value, tuple):
        return tuple(clone(v) for v in value)
    if isinstance(value, Mapping):
        return {k: clone(v) for k, v in value.items()}
    return value


_CONTAINERS = (dict, list, tuple, Mapping)


def load_all(text: str | bytes, *, unknown_tags: str = "error") -> list[Any]:
    """Every document in `text` (empty documents dropped), with Go's scalar meanings.
    `unknown_tags="plain"` reads custom tags as their untagged value instead of failing.
    The same text is parsed once per run (the result is a fresh copy each time)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    key = (hashlib.sha256(data).digest(), unknown_tags)
    found = _MEMO.get(key)
    if found is not None:
        return found
    docs = _parse_all(text, unknown_tags)
    _MEMO.put(key, len(data), docs)
    return docs


def _parse_all(text: str | bytes, unknown_tags: str) -> list[Any]:
    try:
        return _load_with(LenientGoCLoader(text) if unknown_tags == "plain" else GoCLoader(text), text)
    except YamlError as exc:
        if "duplicate anchor" not in str(exc):
            raise
    loader: GoLoader | LenientGoLoader = LenientGoLoader(text) if unknown_tags == "plain" else GoLoader(text)
    return _load_with(loader, text)


def _load_with(loader: Any, text: str | bytes) -> list[Any]:
    may_alias = ("*" in text) if isinstance(text, str) else (b"*" in text)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if may_alias and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
                raise YamlError(
                    f"document expands to more than {MAX_EXPANDED_NODES} nodes through aliases",
                    line=int(node.start_mark.line) + 1,
                )
            doc = loader.construct_document(node)
            if doc is not None:
                docs.append(doc)
    except yaml.YAMLError as exc:
        raise YamlError(_describe(exc), _error_line(exc)) from exc
    finally:
        loader.dispose()
    return docs


_ANCHOR = re.compile(rb"(?:^|[\s\[{,:-])&[^\s\[\]{},]")
_ALIAS = re.compile(rb"(?:^|[\s\[{,:-])\*[^\s\[\]{},]")


def check_alias_expansion(data: bytes) -> None:
    """Raise YamlError when a document of `data` expands past MAX_EXPANDED_NODES through
    aliases: kustomize (kyaml) expands them without bound, so an alias bomb in a file it
    reads would otherwise take it to every byte of memory it may have. Only text with both an
    anchor and an alias is parsed (node tree only, nothing constructed); invalid YAML is
    left for kustomize to report."""
    if _ANCHOR.search(data) is None or _ALIAS.search(data) is None:
        return
    loader: GoCLoader | GoLoader = GoCLoader(data)  # only composed: nothing is constructed
    try:
        loader.check_node()
    except yaml.YAMLError:
        loader.dispose()
        loader = GoLoader(data)  # e.g. a re-defined anchor, which libyaml refuses
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None and _expanded_size(node, {}) > MAX_EXPANDED_NODES:
                raise YamlError(
                    f"document expands to more than {MAX_EXPANDED_NODES} nodes through aliases",
                    line=int(node.start_mark.line) + 1,
                )
    except yaml.YAMLError:
        return
    finally:
        loader.dispose()


def duplicate_keys(data: bytes) -> list[tuple[str, int, int]]:
    """(key, line, first line) of every mapping key defined twice (1-based lines): Go's YAML
    decoders refuse them with a message that names the line but not the file."""
    found: list[tuple[str, int, int]] = []
    loader = GoLoader(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                _collect_duplicates(node, found, set())
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    return found


def _collect_duplicates(node: Node, found: list[tuple[str, int, int]], seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                line = int(key.start_mark.line) + 1
                if key.value in first:
                    found.append((str(key.value), line, first[key.value]))
                first.setdefault(str(key.value), line)
            _collect_duplicates(value, found, seen)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _collect_duplicates(item, found, seen)


def load(text: str | bytes) -> Any:
    """The single document in `text` (None when empty); more than one is an error."""
    docs = load_all(text)
    if len(docs) > 1:
        raise YamlError(f"expected one YAML document, found {len(docs)}")
    return docs[0] if docs else None


def dump(data: Any, *, sort_keys: bool = True) -> str:
    """Deterministic block YAML that Go reads back to the same values."""
    return yaml.dump(data, Dumper=GoDumper, sort_keys=sort_keys, allow_unicode=True, width=1_000_000)


def dump_all(docs: Iterable[Any], *, sort_keys: bool = False) -> str:
    """Multi-document YAML separated by `---`, kustomize-style."""
    return "---\n".join(dump(d, sort_keys=sort_keys) for d in docs)


def iter_mappings(docs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Only the mapping documents (manifests), skipping scalars/lists."""
    for doc in docs:
        if isinstance(doc, dict):
            yield doc
