"""Semantic versions and ranges as Masterminds/semver v3 reads them (Flux and Helm use it).

Chart version ranges in HelmRelease `spec.chart.spec.version`, chart `kubeVersion`
requirements and OCI tag selection all go through this library in Go, and its rules differ
from npm/PEP 440 in ways charts rely on: `1.2` means `1.2.0`, `1.x`/`*` wildcards, `~`/`^`
ranges, `a - b` hyphen ranges, `,` or space for AND, `||` for OR, and pre-releases only
match when a constraint in the same AND group has a pre-release part.

    Constraint.parse(">=1.2.0 <2").check(Version.parse("1.9.3"))  # True
    highest(["1.0.0", "1.1.0-rc.1", "1.0.5"], ">=1.0.0")          # "1.0.5"
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Constraint", "SemverError", "Version", "highest", "is_compatible_range", "parse_flux_version"]


class SemverError(ValueError):
    """A version or constraint string is not valid semver."""


_NUM = "0123456789"
_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-" + _NUM)
_LOOSE = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
)
_UINT64_MAX = 2**64 - 1


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    """A parsed version; comparisons ignore build metadata, as semver says."""

    major: int
    minor: int
    patch: int
    pre: str = ""
    metadata: str = ""
    original: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        """semver.NewVersion (coercing mode): `v` prefix and missing minor/patch allowed."""
        match = _LOOSE.match(text)
        if match is None:
            raise SemverError(f"invalid semantic version: {text!r}")
        numbers = [_uint64(match.group(1)), _uint64(_strip_dot(match.group(2))), _uint64(_strip_dot(match.group(3)))]
        pre, meta = match.group(5) or "", match.group(8) or ""
        if pre:
            _validate_prerelease(pre, text)
        if meta:
            _validate_metadata(meta, text)
        return cls(numbers[0], numbers[1], numbers[2], pre, meta, text)

    def compare(self, other: Version) -> int:
        for mine, theirs in ((self.major, other.major), (self.minor, other.minor), (self.patch, other.patch)):
            if mine != theirs:
                return 1 if mine > theirs else -1
        if not self.pre and not other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        return _compare_prerelease(self.pre, other.pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.pre))

    def __str__(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            out += f"-{self.pre}"
        if self.metadata:
            out += f"+{self.metadata}"
        return out


def parse_flux_version(text: str) -> Version:
    """fluxcd/pkg/version.ParseVersion: like `Version.parse` but needs three dot-parts."""
    if len(text.split(".", 2)) != 3:
        raise SemverError(f"invalid semantic version: {text!r}")
    return Version.parse(text)


def _strip_dot(part: str | None) -> str:
    return (part or "").removeprefix(".") or "0"


def _uint64(digits: str) -> int:
    value = int(digits)
    if value > _UINT64_MAX:
        raise SemverError(f"version segment out of range: {digits}")
    return value


def _validate_prerelease(pre: str, text: str) -> None:
    for part in pre.split("."):
        if part == "":
            raise SemverError(f"invalid prerelease string in {text!r}")
        if all(ch in _NUM for ch in part):
            if len(part) > 1 and part[0] == "0":
                raise SemverError(f"version segment starts with 0 in {text!r}")
        elif not set(part) <= _ALLOWED:
            raise SemverError(f"invalid prerelease string in {text!r}")


def _validate_metadata(meta: str, text: str) -> None:
    for part in meta.split("."):
        if part == "" or not set(part) <= _ALLOWED:
            raise SemverError(f"invalid metadata string in {text!r}")


def _compare_prerelease(mine: str, theirs: str) -> int:
    left, right = mine.split("."), theirs.split(".")
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        diff = _compare_pre_part(a, b)
        if diff:
            return diff
    return 0


def _compare_pre_part(a: str, b: str) -> int:
    if a == b:
        return 0
    if a == "":
        return -1
    if b == "":
        return 1
    a_num, b_num = _as_uint(a), _as_uint(b)
    if a_num is None and b_num is None:
        return 1 if a > b else -1
    if b_num is None:  # a numeric, b not: numeric sorts first
        return -1
    if a_num is None:
        return 1
    return 1 if a_num > b_num else -1


def _as_uint(part: str) -> int | None:
    if part and all(ch in _NUM for ch in part):
        value = int(part)
        return value if value <= _UINT64_MAX else None
    return None


# --- constraints -------------------------------------------------------------------------

_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_CV_GROUPS = 9  # capture groups inside _CV
_CONSTRAINT = re.compile(rf"^\s*({_OPS})\s*({_CV})\s*$")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND = re.compile(rf"({_OPS})\s*({_CV})")
_VALID = re.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$")


@dataclass(frozen=True)
class _Term:
    op: str
    con: Version
    orig: str
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


def _parse_term(text: str) -> _Term:
    if not text:
        return _Term("", Version(0, 0, 0, original="0.0.0"), "", True, False, False)
    match = _CONSTRAINT.match(text)
    if match is None:
        raise SemverError(f"improper constraint: {text!r}")
    op, orig = match.group(1), match.group(2)
    major, minor, patch = match.group(3), match.group(4) or "", match.group(5) or ""
    pre_part = match.group(6) or ""
    minor_dirty = patch_dirty = dirty = False
    version_text = orig
    if _is_x(major) or major == "":
        version_text, dirty = f"0.0.0{pre_part}", True
    elif _is_x(minor.removeprefix(".")) or minor == "":
        version_text, dirty, minor_dirty = f"{major}.0.0{pre_part}", True, True
    elif _is_x(patch.removeprefix(".")) or patch == "":
        version_text, dirty, patch_dirty = f"{major}{minor}.0{pre_part}", True, True
    try:
        con = Version.parse(version_text)
    except SemverError:
        raise SemverError(f"improper constraint: {text!r}") from None
    return _Term(op, con, orig, dirty, minor_dirty, patch_dirty)


def _rewrite_range(text: str) -> str:
    out = text
    for match in _RANGE.finditer(text):
        low, high = match.group(1), match.group(1 + _CV_GROUPS + 1)
        out = out.replace(match.group(0), f">= {low}, <= {high} ", 1)
    return out


@dataclass(frozen=True)
class Constraint:
    """OR of AND groups; `groups_with_pre[i]` lets group i match pre-releases."""

    groups: tuple[tuple[_Term, ...], ...]
    groups_with_pre: tuple[bool, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> Constraint:
        rewritten = _rewrite_range(text)
        groups: list[tuple[_Term, ...]] = []
        has_pre: list[bool] = []
        for part in rewritten.split("||"):
            if not _VALID.match(part):
                raise SemverError(f"improper constraint: {part!r}")
            found = [m.group(0) for m in _FIND.finditer(part)] or [part]
            terms = tuple(_parse_term(item) for item in found)
            groups.append(terms)
            has_pre.append(any(term.con.pre for term in terms))
        return cls(tuple(groups), tuple(has_pre), text)

    def check(self, version: Version) -> bool:
        for terms, with_pre in zip(self.groups, self.groups_with_pre, strict=True):
            if all(_CHECKS[term.op](version, term, with_pre) for term in terms):
                return True
        return False


def _pre_blocked(v: Version, include_pre: bool) -> bool:
    return bool(v.pre) and not include_pre


def _not_equal(v: Version, c: _Term, include_pre: bool) -> bool:
    if _pre_blocked(v, include_pre):
        return False
    if c.dirty:
        if c.con.major != v.major:
            return True
        if c.con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if c.con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            if v.pre or c.con.pre:
                return _compare_prerelease(v.pre, c.con.pre) != 0
            return False
    return v != c.con


def _greater(v: Version, c: _Term, include_pre: bool) -> bool:
    if _pre_blocked(v, include_pre):
        return False
    if not c.dirty:
        return v.compare(c.con) == 1
    if v.major != c.con.major:
        return v.major > c.con.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > c.con.minor
    return v.compare(c.con) == 1


def _less(v: Version, c: _Term, include_pre: bool) -> bool:
    return not _pre_blocked(v, include_pre) and v.compare(c.con) < 0


def _greater_equal(v: Version, c: _Term, include_pre: bool) -> bool:
    return not _pre_blocked(v, include_pre) and v.compare(c.con) >= 0


def _less_equal(v: Version, c: _Term, include_pre: bool) -> bool:
    if _pre_blocked(v, include_pre):
        return False
    if not c.dirty:
        return v.compare(c.con) <= 0
    if v.major > c.con.major:
        return False
    return not (v.major == c.con.major and v.minor > c.con.minor and not c.minor_dirty)


def _tilde(v: Version, c: _Term, include_pre: bool) -> bool:
    if _pre_blocked(v, include_pre) or v < c.con:
        return False
    if (c.con.major, c.con.minor, c.con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != c.con.major:
        return False
    return not (v.minor != c.con.minor and not c.minor_dirty)


def _tilde_or_equal(v: Version, c: _Term, include_pre: bool) -> bool:
    if _pre_blocked(v, include_pre):
        return False
    if c.dirty:
        return _tilde(v, c, include_pre)
    return v == c.con


def _caret(v: Version, c: _Term, include_pre: bool) -> bool:
    if _pre_blocked(v, include_pre) or v < c.con:
        return False
    if c.con.major > 0 or c.minor_dirty:
        return v.major == c.con.major
    if v.major > 0:
        return False
    if c.con.minor > 0 or c.patch_dirty:
        return v.minor == c.con.minor
    if v.minor > 0:
        return False
    return c.con.patch == v.patch


_CHECKS: dict[str, Callable[[Version, _Term, bool], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater,
    "<": _less,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def is_compatible_range(constraint: str, version: str) -> bool:
    """Helm's chartutil.IsCompatibleRange: False on any parse error."""
    try:
        return Constraint.parse(constraint).check(Version.parse(version))
    except SemverError:
        return False


def highest(candidates: Iterable[str], wanted: str) -> str | None:
    """source-controller's pick for a chart version: an exact string match first, else the
    highest candidate (parsed with Flux's three-part rule) inside `wanted` (`""`/`*` = any
    stable). Ties keep the first candidate. Raises SemverError on a bad range."""
    names = list(candidates)
    if wanted and wanted in names:
        return wanted
    constraint = Constraint.parse("*" if wanted in ("", "*") else wanted)
    best: tuple[Version, str] | None = None
    for name in names:
        try:
            version = parse_flux_version(name)
        except SemverError:
            continue
        if constraint.check(version) and (best is None or version > best[0]):
            best = (version, name)
    return None if best is None else best[1]
