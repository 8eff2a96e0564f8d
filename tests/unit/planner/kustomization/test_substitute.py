"""Flux postBuild substitution: one case per rule of fluxcd/pkg envsubst and kustomize_varsub.go.

Every expected value below was also checked against Flux's Go envsubst package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.planner.kustomization.substitute import (
    SubstitutionError,
    collect_variables,
    envsubst,
    should_substitute,
    substitute_document,
    substitution_disabled,
)

# (rule, text, variables, expected)
EXPANSIONS: list[tuple[str, str, dict[str, str], str]] = [
    ("plain ${v}", "x=${v}", {"v": "abc"}, "x=abc"),
    ("length ${#v} counts UTF-8 bytes", "${#v}", {"v": "héllo"}, "6"),
    ("upper first ${v^}", "${v^}", {"v": "hello world"}, "Hello world"),
    ("upper all ${v^^}", "${v^^}", {"v": "hello world"}, "HELLO WORLD"),
    ("upper all keeps ß as Go's simple case mapping does", "${v^^}", {"v": "straße"}, "STRAßE"),
    ("lower first ${v,}", "${v,}", {"v": "HELLO"}, "hELLO"),
    ("lower all ${v,,}", "${v,,}", {"v": "HeLLo"}, "hello"),
    ("mixed casing op ${v^,} is the plain value", "${v^,}", {"v": "aBc"}, "aBc"),
    ("substring ${v:n}", "${v:3}", {"v": "0123456789"}, "3456789"),
    ("substring ${v:n:len}", "${v:3:2}", {"v": "0123456789"}, "34"),
    ("substring length past the end", "${v:7:10}", {"v": "0123456789"}, "789"),
    ("substring offset past the end", "${v:20}", {"v": "0123456789"}, ""),
    ("substring negative offset via a nested var", "${v:${n}}", {"v": "0123456789", "n": "-3"}, "789"),
    ("substring offset that is not a number keeps the value", "${v: -3}", {"v": "0123456789"}, "0123456789"),
    ("remove shortest prefix ${v#pat}", "${v#*.}", {"v": "bash.string.txt"}, "string.txt"),
    ("remove longest prefix ${v##pat}", "${v##*.}", {"v": "bash.string.txt"}, "txt"),
    ("remove shortest suffix ${v%pat}", "${v%.*}", {"v": "bash.string.txt"}, "bash.string"),
    ("remove longest suffix ${v%%pat}", "${v%%.*}", {"v": "bash.string.txt"}, "bash"),
    ("pattern * crosses /", "${v#*/}", {"v": "path/to/file"}, "to/file"),
    ("pattern ? and [class]", "${v#?[a-c]}", {"v": "xbyz"}, "yz"),
    ("replace first ${v/a/b}", "${v/a/X}", {"v": "banana"}, "bXnana"),
    ("replace all ${v//a/b}", "${v//a/X}", {"v": "banana"}, "bXnXnX"),
    ("replace prefix ${v/#a/b}", "${v/#b/X}", {"v": "banana"}, "Xanana"),
    ("replace prefix only at the start", "${v/#a/X}", {"v": "banana"}, "banana"),
    ("replace suffix ${v/%a/b}", "${v/%a/X}", {"v": "banana"}, "bananX"),
    ("replace all with empty replacement deletes", "${v//a/}", {"v": "banana"}, "bnn"),
    ("replace prefix with empty replacement is a no-op in Flux", "${v/#b/}", {"v": "banana"}, "banana"),
    ("replace escapes \\/ in the pattern", "${v//\\//-}", {"v": "a/b/c"}, "a-b-c"),
    ("replace escapes $$ in the pattern", "${v/$$/S}", {"v": "a$b"}, "aSb"),
    ("default :- used when unset", "${u:-d}", {"v": "x"}, "d"),
    ("default = used when unset", "${u=d}", {"v": "x"}, "d"),
    ("default := used when unset", "${u:=d}", {"v": "x"}, "d"),
    ("default :- used when empty", "${e:-d}", {"e": ""}, "d"),
    ("default = used when empty (not only unset)", "${e=d}", {"e": ""}, "d"),
    ("default := used when empty", "${e:=d}", {"e": ""}, "d"),
    ("default not used when set", "${v:=d}", {"v": "x"}, "x"),
    ("default may be empty", "[${u:=}]", {"v": "x"}, "[]"),
    ("default containing ${other}", "${u:=${w}-suffix}", {"w": "base"}, "base-suffix"),
    ("default containing text and two vars", "${u:=a${w}b${w}}", {"w": "-"}, "a-b-"),
    ("default := does not assign", "${u:=d}/${u}", {"v": "x"}, "d/"),
    ("default keeps $$ (no escape inside defaults)", "${u:=a$$b}", {"v": "x"}, "a$$b"),
    ("default stops at the first }", "${u:={a}}", {"v": "x"}, "{a}"),
    ("${v:+x} is a default form in Flux, not bash's alternate", "${v:+alt}|${u:+alt}", {"v": "x"}, "x|alt"),
    ("${v:?x} is a default form in Flux, not an error", "${u:?msg}", {"v": "x"}, "msg"),
    ("$$ becomes $", "echo $$HOME", {"v": "x"}, "echo $HOME"),
    ("$${v} becomes a literal ${v}", "$${v}", {"v": "x"}, "${v}"),
    ("$$$ becomes $$", "$$$", {"v": "x"}, "$$"),
    ("$$ then ${v}", "$$${v}", {"v": "x"}, "$x"),
    ("escape anywhere in a line", "a$$b ${v}$${v$${v}$v", {"v": "x"}, "a$b x${v${v}$v"),
    ("bare $var untouched", "$v and $v1 and $", {"v": "x"}, "$v and $v1 and $"),
    ("undefined var is empty when not strict", "[${nope}]", {"v": "x"}, "[]"),
    ("undefined var with an operator is empty when not strict", "[${nope^^}${#nope}]", {}, "[0]"),
    ("variable names may be non-ASCII letters in the text", "[${é}]", {}, "[]"),
    ("backslashes outside ${} are text", "\\\\x ${v}", {"v": "x"}, "\\\\x x"),
    ("a NUL character ends the text, as in Go's scanner", "a\x00${v}", {"v": "x"}, "a"),
]


@pytest.mark.parametrize(("text", "variables", "expected"), [c[1:] for c in EXPANSIONS], ids=[c[0] for c in EXPANSIONS])
def test_envsubst_expansion(text: str, variables: dict[str, str], expected: str) -> None:
    assert envsubst(text, variables, strict=False) == expected


# (rule, text, variables) that fail in strict mode with `variable not set (strict mode): "nope"`
STRICT_ERRORS = [
    ("strict: bare ${v}", "${nope}", {}),
    ("strict: length", "${#nope}", {}),
    ("strict: upper", "${nope^^}", {}),
    ("strict: lower first", "${nope,}", {}),
    ("strict: substring", "${nope:0:2}", {}),
    ("strict: remove prefix", "${nope#a}", {}),
    ("strict: remove suffix", "${nope%%a}", {}),
    ("strict: replace", "${nope//a/b}", {}),
    ("strict: replace prefix", "${nope/#a/b}", {}),
    ("strict: := does not assign for later uses", "${nope:=d}${nope}", {}),
    ("strict: nested var in an unused default still fails", "${v:=${nope}}", {"v": "set"}),
]


@pytest.mark.parametrize(("text", "variables"), [c[1:] for c in STRICT_ERRORS], ids=[c[0] for c in STRICT_ERRORS])
def test_strict_unset_variable_fails(text: str, variables: dict[str, str]) -> None:
    with pytest.raises(SubstitutionError) as caught:
        envsubst(text, variables, strict=True)
    assert (
        caught.value.summary == 'envsubst error: variable substitution failed: variable not set (strict mode): "nope"'
    )
    assert isinstance(caught.value, RenderError)


STRICT_ALLOWED = [
    ("strict allows :-", "${nope:-d}", {}, "d"),
    ("strict allows =", "${nope=d}", {}, "d"),
    ("strict allows :=", "${nope:=d}", {}, "d"),
    ("strict allows :+ (a default form)", "${nope:+d}", {}, "d"),
    ("strict allows :? (a default form)", "${nope:?d}", {}, "d"),
    ("strict: var set to empty is not an error", "[${e}${#e}]", {"e": ""}, "[0]"),
    ("strict: text without ${} needs no vars", "$plain $$ text", {}, "$plain $ text"),
]


@pytest.mark.parametrize(
    ("text", "variables", "expected"), [c[1:] for c in STRICT_ALLOWED], ids=[c[0] for c in STRICT_ALLOWED]
)
def test_strict_allows(text: str, variables: dict[str, str], expected: str) -> None:
    assert envsubst(text, variables, strict=True) == expected


# (rule, text, Go's parse error)
PARSE_ERRORS = [
    ("unclosed ${", "a: ${v", "missing closing brace"),
    ("unclosed ${ with default", "a: ${v:=x", "unable to parse substitution within function"),
    ("empty ${}", "${}", "unable to parse variable name"),
    ("lone ${ at the end", "x ${", "unable to parse variable name"),
    ("${v-d} is not supported by Flux's parser", "${v-d}", "missing closing brace"),
    ("${v+x} is not supported by Flux's parser", "${v+x}", "missing closing brace"),
    ("${v?x} is not supported by Flux's parser", "${v?x}", "missing closing brace"),
    ("dash in a name", "${my-var}", "missing closing brace"),
    ("dot in a name", "${a.b}", "missing closing brace"),
    ("pattern missing after #", "${v#}", "unable to parse substitution within function"),
    ("three carets", "${v^^^}", "bad substitution"),
    ("replace without its / delimiter", "${v/a}", "bad substitution"),
]


@pytest.mark.parametrize(("text", "message"), [c[1:] for c in PARSE_ERRORS], ids=[c[0] for c in PARSE_ERRORS])
@pytest.mark.parametrize("strict", [False, True], ids=["lax", "strict"])
def test_parse_errors(text: str, message: str, strict: bool) -> None:
    with pytest.raises(SubstitutionError) as caught:
        envsubst(text, {"v": "x"}, strict=strict)
    assert caught.value.summary == f"envsubst error: variable substitution failed: {message}"


def test_error_names_the_line_but_not_the_text() -> None:
    secret_text = "kind: Secret\nstringData:\n  token: hunter2\n  other: ${broken\n"
    with pytest.raises(SubstitutionError) as caught:
        envsubst(secret_text, {"v": "x"}, strict=False)
    assert "line 4" in caught.value.detail
    assert "hunter2" not in caught.value.one_line()


def test_negative_substring_length_fails_like_go_panics() -> None:
    with pytest.raises(SubstitutionError, match=r"slice bounds out of range \[2:1\]"):
        envsubst("${v:2:-1}", {"v": "0123456789"}, strict=False)


def test_substring_counts_bytes_and_a_cut_character_is_reported() -> None:
    assert envsubst("${v:0:1}", {"v": "é"}, strict=False).encode("utf-8", "surrogateescape") == b"\xc3"
    with pytest.raises(SubstitutionError, match="not valid UTF-8"):
        substitute_document("a: ${v:0:1}\n", {"v": "é"}, strict=False)


# --- variables: substituteFrom, substitute ---

OBJECTS: dict[tuple[str, str], dict[str, str]] = {
    ("ConfigMap", "first"): {"region": "eu", "env": "dev", "multi": "line1\nline2\n"},
    ("ConfigMap", "second"): {"env": "staging"},
    ("Secret", "creds"): {"token": "s3cr3t\n", "env": "from-secret"},
    ("ConfigMap", "empty"): {},
}


def lookup(kind: str, name: str) -> Mapping[str, str] | None:
    return OBJECTS.get((kind, name))


def ref(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "name": name, **extra}


def test_substitute_from_later_wins() -> None:
    post_build = {"substituteFrom": [ref("ConfigMap", "first"), ref("ConfigMap", "second"), ref("Secret", "creds")]}
    assert collect_variables(post_build, lookup)["env"] == "from-secret"
    post_build["substituteFrom"].reverse()
    assert collect_variables(post_build, lookup)["env"] == "dev"


def test_inline_substitute_beats_every_substitute_from() -> None:
    post_build = {
        "substitute": {"env": "prod"},
        "substituteFrom": [ref("ConfigMap", "first"), ref("Secret", "creds")],
    }
    variables = collect_variables(post_build, lookup)
    assert variables["env"] == "prod"
    assert variables["region"] == "eu"


def test_newlines_are_removed_from_all_values() -> None:
    post_build = {
        "substitute": {"inline": "a\nb\n"},
        "substituteFrom": [ref("ConfigMap", "first"), ref("Secret", "creds")],
    }
    variables = collect_variables(post_build, lookup)
    assert (variables["multi"], variables["token"], variables["inline"]) == ("line1line2", "s3cr3t", "ab")


def test_optional_missing_object_is_tolerated() -> None:
    post_build = {"substituteFrom": [ref("ConfigMap", "absent", optional=True), ref("ConfigMap", "second")]}
    assert collect_variables(post_build, lookup) == {"env": "staging"}


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("ConfigMap", "substitute from 'ConfigMap/absent' error: configmaps \"absent\" not found"),
        ("Secret", "substitute from 'Secret/absent' error: secrets \"absent\" not found"),
    ],
)
def test_required_missing_object_fails_like_flux(kind: str, message: str) -> None:
    for optional in ({}, {"optional": False}):
        with pytest.raises(SubstitutionError) as caught:
            collect_variables({"substituteFrom": [ref(kind, "absent", **optional)]}, lookup)
        assert caught.value.summary == message


def test_empty_object_and_no_post_build_fields_give_no_variables() -> None:
    assert collect_variables({"substituteFrom": [ref("ConfigMap", "empty")]}, lookup) == {}
    assert collect_variables({}, lookup) == {}


@pytest.mark.parametrize(
    ("post_build", "fragment"),
    [
        ({"substitute": {"replicas": 3}}, "substitute.replicas must be a string"),
        ({"substituteFrom": [ref("configmap", "first")]}, "kind must be ConfigMap or Secret"),
        ({"substituteFrom": [{"kind": "ConfigMap"}]}, "name must be a non-empty string"),
        ({"substituteFrom": [ref("Secret", "creds", optional="yes")]}, "optional must be true or false"),
        ({"substituteFrom": {"kind": "Secret"}}, "substituteFrom must be a list"),
    ],
    ids=["unquoted inline value", "kind is case-sensitive", "missing name", "optional not a bool", "not a list"],
)
def test_post_build_schema_errors(post_build: dict[str, Any], fragment: str) -> None:
    """Values the Kustomization CRD schema would reject never reach substitution."""
    with pytest.raises(SubstitutionError, match=fragment):
        collect_variables(post_build, lookup)


@pytest.mark.parametrize("name", ["my-key", "app.conf", "1abc", "é", "trailing\n", ""])
def test_invalid_variable_name_fails_the_resource(name: str) -> None:
    with pytest.raises(SubstitutionError) as caught:
        substitute_document("a: b\n", {"ok": "1", name: "x"}, strict=False)
    assert caught.value.summary == (
        f"envsubst error: '{name}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'"
    )


def test_valid_variable_names() -> None:
    variables = {"_x": "1", "Cluster_Name2": "c", "a": "b"}
    assert substitute_document("v: ${_x}${Cluster_Name2}${a}\n", variables, strict=True) == "v: 1cb\n"


# --- when substitution runs ---


@pytest.mark.parametrize(
    ("metadata", "disabled"),
    [
        ({"labels": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}, True),
        ({"annotations": {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}}, True),
        ({"annotations": {"kustomize.toolkit.fluxcd.io/substitute": "Disabled"}}, False),
        ({"labels": {"kustomize.toolkit.fluxcd.io/substitute": "DISABLED"}}, False),
        ({"annotations": {"kustomize.toolkit.fluxcd.io/substitute": "enabled"}}, False),
        ({"labels": None, "annotations": None}, False),
        ({}, False),
    ],
    ids=["label", "annotation", "annotation case-sensitive", "label case-sensitive", "other value", "nulls", "none"],
)
def test_substitution_disabled(metadata: dict[str, Any], disabled: bool) -> None:
    assert substitution_disabled({"kind": "ConfigMap", "metadata": {"name": "x", **metadata}}) is disabled


@pytest.mark.parametrize(
    ("post_build", "variables", "expected"),
    [
        (None, {"v": "x"}, False),
        ({}, {}, False),
        ({}, {"v": "x"}, True),
        ({"substituteStrategy": "WithVariables"}, {}, False),
        ({"substituteStrategy": "WithVariables"}, {"v": ""}, True),
        ({"substituteStrategy": "Always"}, {}, True),
    ],
    ids=[
        "no postBuild",
        "empty postBuild no vars",
        "default with vars",
        "WithVariables no vars",
        "var set to empty",
        "Always no vars",
    ],
)
def test_should_substitute(post_build: dict[str, Any] | None, variables: dict[str, str], expected: bool) -> None:
    assert should_substitute(post_build, variables) is expected


def test_unknown_strategy_is_rejected() -> None:
    with pytest.raises(SubstitutionError, match="substituteStrategy must be WithVariables or Always"):
        should_substitute({"substituteStrategy": "always"}, {})


def build(doc_text: str, post_build: dict[str, Any] | None, *, strict: bool = True) -> Any:
    """The per-resource order kustomize-controller follows, through the public API."""
    doc = yamlio.load(doc_text)
    variables = collect_variables(post_build or {}, lookup)
    if substitution_disabled(doc) or not should_substitute(post_build, variables):
        return doc
    return yamlio.load(substitute_document(doc_text, variables, strict=strict))


DEFAULTED = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  env: ${env:=dev}\n  raw: ${missing}\n"


def test_with_variables_and_no_variables_leaves_defaults_literal() -> None:
    empty_from = {"substituteFrom": [ref("ConfigMap", "empty"), ref("ConfigMap", "absent", optional=True)]}
    assert build(DEFAULTED, empty_from)["data"] == {"env": "${env:=dev}", "raw": "${missing}"}


def test_always_with_no_variables_substitutes_and_strict_applies() -> None:
    """Always runs with zero vars; an unquoted value that expands to "" re-parses as null."""
    assert build(DEFAULTED, {"substituteStrategy": "Always"}, strict=False)["data"] == {"env": "dev", "raw": None}
    with pytest.raises(SubstitutionError, match='"missing"'):
        build(DEFAULTED, {"substituteStrategy": "Always"}, strict=True)


def test_disabled_resource_is_untouched_even_with_invalid_names() -> None:
    doc = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  annotations:\n"
        "    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  a: ${x}\n"
    )
    assert build(doc, {"substitute": {"bad-name": "1"}})["data"] == {"a": "${x}"}


def test_type_changes_after_reparse() -> None:
    """Substitution is textual: unquoted values re-type, quoted ones stay strings."""
    doc = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  labels:\n"
        '    replicas: "${replicas}"\n    ${key}: v\nspec:\n  replicas: ${replicas}\n  paused: ${flag}\n'
    )
    out = build(doc, {"substitute": {"name": "web", "replicas": "3", "flag": "yes", "key": "tier"}})
    assert out["spec"] == {"replicas": 3, "paused": True}
    assert out["metadata"] == {"name": "web", "labels": {"replicas": "3", "tier": "v"}}


def test_quote_variable_trick_keeps_a_number_a_string() -> None:
    out = build(
        "kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  id: ${quote}${id}${quote}\n",
        {"substitute": {"quote": '"', "id": "0123"}},
    )
    assert out["data"]["id"] == "0123"


def test_script_in_a_literal_block_keeps_bare_vars_and_unescapes_dollars() -> None:
    doc = "kind: ConfigMap\nmetadata:\n  name: s\ndata:\n  run.sh: |\n    echo $$HOME $USER ${greeting}\n"
    out = build(doc, {"substitute": {"greeting": "hi"}})
    assert out["data"]["run.sh"] == "echo $HOME $USER hi\n"


# --- properties ---

_NAMES = st.from_regex(r"[_A-Za-z][_A-Za-z0-9]{0,6}", fullmatch=True)
_LITERAL = st.text(st.characters(exclude_characters="$\x00", exclude_categories=["Cs"]), max_size=12)
_VALUES = st.dictionaries(
    _NAMES, st.text(st.characters(exclude_characters="$", exclude_categories=["Cs"]), max_size=8), max_size=4
)


@given(text=_LITERAL, variables=_VALUES, strict=st.booleans())
def test_text_without_dollar_is_unchanged(text: str, variables: dict[str, str], strict: bool) -> None:
    assert envsubst(text, variables, strict=strict) == text


_PIECE = st.one_of(
    _LITERAL.map(lambda text: (text, "text")),
    _NAMES.map(lambda name: ("${" + name + "}", "var")),
    st.just(("$$", "escape")),
    _NAMES.map(lambda name: ("$" + name, "text")),  # bare $name is text to Flux
)


def _model(pieces: list[tuple[str, str]], variables: dict[str, str]) -> str:
    out = ""
    for source, kind in pieces:
        out += {"text": source, "escape": "$", "var": variables.get(source[2:-1], "")}[kind]
    return out


@given(pieces=st.lists(_PIECE, max_size=8), variables=_VALUES)
def test_simple_forms_match_a_reference_model(pieces: list[tuple[str, str]], variables: dict[str, str]) -> None:
    """${name} -> value or "", $$ -> $, bare $name and other text stay, piece by piece."""
    text = "".join(source for source, _ in pieces)
    assert envsubst(text, variables, strict=False) == _model(pieces, variables)


@given(pieces=st.lists(_PIECE.filter(lambda piece: piece[1] != "escape"), max_size=8), variables=_VALUES)
def test_result_is_a_fixed_point_without_escapes(pieces: list[tuple[str, str]], variables: dict[str, str]) -> None:
    """Values without '$' cannot reintroduce ${...}, so a second pass changes nothing."""
    once = envsubst("".join(source for source, _ in pieces), variables, strict=False)
    assert envsubst(once, variables, strict=False) == once
