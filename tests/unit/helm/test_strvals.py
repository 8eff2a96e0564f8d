"""The ported `--set` parser against Helm's own (the SDK's strvals) and ParseInto quirks."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxform.helm.strvals import StrvalsError, parse_into, parse_into_string

EXPRESSIONS = [
    "a=b",
    "a=1,b=true,c=null,d=0,e=01,f=-5,g=+7,h=1.5,i=TRUE,j=Null",
    "a.b.c=x",
    "a.b=1,a.c=2",
    "list[0]=a,list[2]=c",
    "list[1].name=x,list[1].port=80",
    "nested[0][1]=z",
    "ports={80,443}",
    "empty={}",
    "a=",
    r"key\.with\.dots=v",
    r"a=comma\,inside",
    "a=x=y",
    "name=  spaced  ",
    "a=9223372036854775807,b=9223372036854775808",
    "a={x,y}z",
    "a[0]",
    "a.",
    "a",
    "a,b=1",
    "a[-1]=x",
    "a[x]=1",
    "a[0]b=1",
    "a={x,y",
    "a.=1",
    "=1",
    "a..b=1",
]


def _sdk(expression: str, as_string: bool) -> tuple[str, Any]:
    parse = helm_python.parse_set_string_values if as_string else helm_python.parse_set_string
    try:
        return "ok", parse(expression)
    except helm_python.HelmError:
        return "error", None


def _ours(expression: str, as_string: bool) -> tuple[str, Any]:
    dest: dict[str, Any] = {}
    try:
        (parse_into_string if as_string else parse_into)(expression, dest)
    except StrvalsError:
        return "error", None
    return "ok", dest


@pytest.mark.parametrize("as_string", [False, True], ids=["typed", "string"])
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_matches_helm_parser(expression: str, as_string: bool) -> None:
    assert _ours(expression, as_string) == _sdk(expression, as_string)


_TOKENS = st.sampled_from(["a", "b", "0", "1", "x", ".", "=", ",", "[", "]", "{", "}", "\\", "true", "null", "-3"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, min_size=1, max_size=10).map("".join))
def test_random_expressions_match_helm(expression: str) -> None:
    assert _ours(expression, False) == _sdk(expression, False)


def test_parse_into_merges_and_mutates_in_place() -> None:
    shared = {"b": 1}
    dest: dict[str, Any] = {"a": shared, "keep": True}
    parse_into("a.c=2", dest)
    assert dest == {"a": {"b": 1, "c": 2}, "keep": True}
    assert dest["a"] is shared  # Go mutates the existing map: Flux's aliasing depends on it


def test_parse_into_sets_list_index_in_existing_list() -> None:
    items = ["p", "q", "r"]
    dest: dict[str, Any] = {"l": items}
    parse_into("l[1]=z", dest)
    assert dest["l"] == ["p", "z", "r"] and items == ["p", "z", "r"]


@pytest.mark.parametrize(
    ("existing", "expression", "message"),
    [
        ({"a": "text"}, "a.b=1", "interface {} is string, not map[string]interface {}"),
        ({"a": None}, "a.b=1", "interface {} is nil, not map[string]interface {}"),
        ({"a": {"x": 1}}, "a[0]=1", "interface {} is map[string]interface {}, not []interface {}"),
    ],
    ids=["scalar-parent", "null-parent", "map-not-list"],
)
def test_parse_into_existing_wrong_type_fails_like_go_panic(
    existing: dict[str, Any], expression: str, message: str
) -> None:
    with pytest.raises(StrvalsError, match=message.replace("{", r"\{").replace("}", r"\}").replace("[", r"\[")):
        parse_into(expression, existing)
