"""dumps_indented writes exactly what json.dumps(indent=2, sort_keys=True) writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxform.jsontext import dumps_indented

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.text(alphabet="\"\\\n\t\u2028é😀<>&'")
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4))
)


@settings(max_examples=500)
@given(VALUES)
def test_same_text_as_the_standard_library(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2, sort_keys=True)


def test_tuples_are_arrays_and_other_types_are_refused() -> None:
    assert dumps_indented({"a": (1, [2])}) == json.dumps({"a": [1, [2]]}, indent=2, sort_keys=True)
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"a": {1, 2}})
    with pytest.raises(TypeError, match="keys must be str"):
        dumps_indented({1: "a"})
