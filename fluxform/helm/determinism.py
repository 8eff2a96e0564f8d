"""Whether a chart renders the same objects every time it is given the same inputs.

helm-controller renders again on every reconcile; a chart whose templates call a random,
key-generating, clock or cluster-reading function (`randAlphaNum`, `genCA`, `uuidv4`, `now`,
`date`, `lookup`, ...) renders something new each time, so a stored render would show a
plan Flux never makes. Such a render is never cached (helm/render_cache.py).

The rule reads the template text of the chart and of every subchart (vendored directories,
`.tgz` archives in `charts/`, and dependencies resolution added): a call inside a template
action `{{ ... }}`, outside string literals and comments, of one of `NONDETERMINISTIC`
makes the chart non-deterministic. When a template calls `tpl`, values are templates too,
so the values (the chart's `values.yaml` files and the composed values) are read the same
way. Over-approximate on purpose: a false alarm costs a render, a miss a wrong plan.

    nondeterministic_call(chart, values)    # "randAlphaNum" or None
"""

from __future__ import annotations

import functools
import io
import json
import re
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from fluxform.helm.chart_dir import tree_digest
from fluxform.helm.chart_model import ResolvedChart

__all__ = ["NONDETERMINISTIC", "nondeterministic_call"]

#: Sprig/Helm functions whose result is not a function of the render's inputs.
NONDETERMINISTIC = (
    r"rand\w*",  # randAlphaNum, randAlpha, randNumeric, randAscii, randBytes, randInt
    r"shuffle",
    r"gen(?:CA|PrivateKey|SelfSignedCert|SignedCert)\w*",  # and their *WithKey forms
    r"uuidv4",
    r"now",
    r"ago",
    r"unixEpoch",
    r"(?:must)?[dD]ate\w*",  # date, dateInZone, date_in_zone, dateModify, mustDateModify
    r"date_modify|must_date_modify",
    r"htmlDate\w*",
    r"lookup",  # the live cluster's objects (empty offline; new on every reconcile)
    r"getHostByName",  # DNS
    r"encryptAES",  # random IV
    r"bcrypt|htpasswd",  # random salt
)
_CALL = re.compile(r"(?<![\w.$\"'`])(" + "|".join(NONDETERMINISTIC) + r")(?![\w])")
_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'')
_TPL = re.compile(r"(?<![\w.$])tpl(?![\w])")
#: Archives nested deeper than this are not opened; the chart counts as non-deterministic.
_MAX_DEPTH = 4


def nondeterministic_call(chart: ResolvedChart, values: Mapping[str, Any]) -> str | None:
    """The first non-deterministic function the chart's templates call, else None."""
    deps = tuple(
        (str(d.path), tree_digest(d.path), b"") if d.path is not None else ("", "", d.data or b"")
        for d in chart.dependencies
    )
    found, uses_tpl, values_texts = _scan_chart(chart.digest, chart.path, chart.data, deps)
    if found is not None:
        return found
    if not uses_tpl:
        return None
    texts = [*values_texts, json.dumps(values, default=str)]
    if chart.values_override is not None:
        texts.append(json.dumps(chart.values_override, default=str))
    for text in texts:
        if (call := _call_in(text)) is not None:
            return f"tpl of values calling {call}"
    return None


@functools.lru_cache(maxsize=64)
def _scan_chart(
    digest: str, path: Path | None, data: bytes | None, deps: tuple[tuple[str, str, bytes], ...]
) -> tuple[str | None, bool, tuple[str, ...]]:
    """(first call found, whether `tpl` is called, values.yaml texts), over every file of
    the chart and its dependencies (path, its tree digest, or archive bytes); memoised by
    content: the chart's digest and each dependency's digest or bytes."""
    files: list[tuple[str, str]] = []
    try:
        if path is not None:
            files.extend(_directory_files(path, 0))
        elif data is not None:
            files.extend(_archive_files(data, 0))
        for dep_path, _, dep_data in deps:
            files.extend(_directory_files(Path(dep_path), 0) if dep_path else _archive_files(dep_data, 0))
    except (OSError, tarfile.TarError, _TooDeep) as exc:
        return f"(unreadable chart: {exc})", False, ()
    uses_tpl = False
    values: list[str] = []
    for name, text in files:
        parts = PurePosixPath(name).parts
        if "templates" in parts:
            if (call := _call_in(text)) is not None:
                return f"{call} in {name}", False, ()
            uses_tpl = uses_tpl or any(_TPL.search(_code(action)) for action in _ACTION.findall(text))
        elif parts and parts[-1] == "values.yaml":
            values.append(text)
    return None, uses_tpl, tuple(values)


def _call_in(text: str) -> str | None:
    for action in _ACTION.findall(text):
        if match := _CALL.search(_code(action)):
            return match.group(1)
    return None


def _code(action: str) -> str:
    """A template action without comments and string literals."""
    return _STRING.sub('""', _COMMENT.sub("", action))


class _TooDeep(Exception):
    pass


def _directory_files(root: Path, depth: int) -> Iterator[tuple[str, str]]:
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        if file.suffix == ".tgz":
            yield from ((f"{relative}/{n}", t) for n, t in _archive_files(file.read_bytes(), depth + 1))
        else:
            yield relative, file.read_bytes().decode("utf-8", "replace")


def _archive_files(data: bytes, depth: int) -> Iterator[tuple[str, str]]:
    if depth > _MAX_DEPTH:
        raise _TooDeep("subcharts nested too deep")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            content = handle.read()
            if member.name.endswith(".tgz"):
                yield from ((f"{member.name}/{n}", t) for n, t in _archive_files(content, depth + 1))
            else:
                yield member.name, content.decode("utf-8", "replace")
