"""Masterminds/semver v3 rules as Flux and Helm apply them to chart versions."""

from __future__ import annotations

import pytest

from fluxform.sources.semver import (
    Constraint,
    SemverError,
    Version,
    highest,
    is_compatible_range,
    parse_flux_version,
)

CHECKS = [
    ("=2.0", "2.0.1", True),
    ("4.1", "4.1.0", True),
    ("!=4.1", "4.1.1", False),
    ("!=4.1", "5.1.0", True),
    ("!=4.1-alpha", "4.1.0", True),
    ("<1.1", "1.1.1", False),
    ("<=1.1", "1.1.1", True),
    ("<=11", "12.2.3", False),
    (">11.1", "11.1.1", False),
    (">11.1", "11.2.1", True),
    (">0", "0.0.1-alpha", False),
    (">=0-0", "0.0.1-alpha", True),
    (">=0.0.0-0", "3.4.5-beta.1", True),
    ("<0-z", "0.0.0-alpha", True),
    ("*", "1.2.3-alpha.1", False),
    ("*-0", "1.2.3-alpha.1", True),
    ("2.*", "2.1.1", True),
    ("2.1.*", "2.2.1", False),
    ("~1.2.3", "1.3.4", False),
    ("~1", "1.2.4", True),
    ("~1.2.3-beta.2", "1.2.4-beta.2", True),
    ("^1.2.0", "1.2.1-alpha.1", False),
    ("^1.2.0-alpha.0", "1.2.1-alpha.1", True),
    ("^0.2.3", "0.5.6", False),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.3", True),
    ("^0", "1.1.4", False),
    (">=1.2.0 <2", "1.9.9", True),
    (">=1.2.0, <2", "2.0.0", False),
    ("1.2 - 1.4", "1.4.9", True),
    ("1.2 - 1.4", "1.5.0", False),
    ("<1.0.0 || >=3", "3.1.0", True),
    ("<1.0.0 || >=3", "2.0.0", False),
    (">=1.0.0-0 <2 || 3.x", "1.5.0-rc.1", True),
    (">=1.20.0-0", "v1.36.0", True),  # the common chart kubeVersion form
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CHECKS, ids=[f"{c} {v}" for c, v, _ in CHECKS])
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    assert Constraint.parse(constraint).check(Version.parse(version)) is expected


@pytest.mark.parametrize(
    ("smaller", "bigger"),
    [
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-rc.1", "1.0.0"),
        ("1.9.0", "1.10.0"),
    ],
)
def test_ordering(smaller: str, bigger: str) -> None:
    assert Version.parse(smaller) < Version.parse(bigger)


def test_build_metadata_does_not_order() -> None:
    assert Version.parse("1.0.0+a") == Version.parse("1.0.0+b")
    assert str(Version.parse("v1.2.3-rc.1+build.5")) == "1.2.3-rc.1+build.5"


@pytest.mark.parametrize("bad", ["", "x", "1.2.3.4", "1.2.3-01", "1.2.3-a..b", "1.2.3+"])
def test_invalid_versions(bad: str) -> None:
    with pytest.raises(SemverError):
        Version.parse(bad)


@pytest.mark.parametrize("bad", ["", ">= foo", "1.2.3 ||| 2", "~>"])
def test_invalid_constraints(bad: str) -> None:
    with pytest.raises(SemverError):
        Constraint.parse(bad)


def test_flux_version_needs_three_parts() -> None:
    assert parse_flux_version("v2025.02.03-rc.1").major == 2025
    with pytest.raises(SemverError):
        parse_flux_version("1.2")


@pytest.mark.parametrize(
    ("candidates", "wanted", "expected"),
    [
        (["1.0.0", "1.1.0-rc.1", "1.0.5"], "*", "1.0.5"),
        (["1.0.0", "1.1.0-rc.1", "1.0.5"], "", "1.0.5"),
        (["1.0.0", "1.1.0-rc.1", "1.0.5"], ">=1.1.0-0", "1.1.0-rc.1"),
        (["6.5.0", "6.4.1", "5.9.0"], "6.x", "6.5.0"),
        (["6.5.0", "6.4.1", "5.9.0"], "~6.4", "6.4.1"),
        (["1.2", "1.0.0"], "*", "1.0.0"),  # two-part versions are skipped by Flux's parser
        (["latest", "1.0.0"], "latest", "latest"),  # exact string match comes first
        (["1.0.0"], ">=2", None),
    ],
)
def test_highest(candidates: list[str], wanted: str, expected: str | None) -> None:
    assert highest(candidates, wanted) == expected


def test_is_compatible_range_is_false_on_garbage() -> None:
    assert is_compatible_range(">=1.20.0-0", "v1.30.0")
    assert not is_compatible_range(">=1.32", "v1.30.0")
    assert not is_compatible_range("not a range", "v1.30.0")
