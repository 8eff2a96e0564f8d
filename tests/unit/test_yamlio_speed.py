"""YAML is parsed once and emitted by libyaml (issue 21, lever 3): the same bytes are parsed
once per run (a counter, not a timing), copies handed out never share state, libyaml's
emitter writes what PyYAML's pure-Python one wrote, and without libyaml fluxform stops at
once with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from yaml.emitter import Emitter
from yaml.serializer import Serializer

from fluxform import yamlio
from tests.support.cli import FIXTURES, REPO

DOC = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n  list: [1, 2]\n"


@pytest.fixture
def memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh parse memo, as at the start of a run."""
    monkeypatch.setattr(yamlio, "_MEMO", yamlio._ParseMemo(1 << 20))


def test_same_bytes_are_parsed_once_and_each_caller_gets_its_own_copy(memo: None) -> None:
    first = yamlio.load(DOC)
    second = yamlio.load(DOC.encode())  # the same bytes, as bytes
    assert yamlio.parses() == 1
    assert first == second and first is not second
    first["data"]["list"].append(3)
    assert yamlio.load(DOC)["data"]["list"] == [1, 2]
    assert yamlio.parses() == 1


def test_other_bytes_or_other_tag_handling_parse_again(memo: None) -> None:
    yamlio.load_all(DOC)
    yamlio.load_all(DOC + "---\n")
    yamlio.load_all(DOC, unknown_tags="plain")
    assert yamlio.parses() == 3


def test_invalid_yaml_is_never_remembered(memo: None) -> None:
    for _ in range(2):
        with pytest.raises(yamlio.YamlError):
            yamlio.load_all("a: [1\n")
    assert yamlio.parses() == 0


def test_memo_keeps_to_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "_MEMO", yamlio._ParseMemo(4 * len(DOC) + 10))
    for i in range(10):
        yamlio.load(DOC.replace("name: a", f"name: a{i}"))
    assert yamlio._MEMO.size <= 4 * len(DOC) + 10
    assert yamlio.parses() == 10


class _PurePythonDumper(Emitter, Serializer, yamlio.GoRepresenter, yamlio.GoResolver):
    """What yamlio dumped with before libyaml's emitter: the reference for byte equality."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        Emitter.__init__(self, stream, allow_unicode=kwargs.get("allow_unicode"), width=kwargs.get("width"))
        Serializer.__init__(self)
        yamlio.GoRepresenter.__init__(self, default_flow_style=False, sort_keys=kwargs.get("sort_keys", True))
        yamlio.GoResolver.__init__(self)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _documents() -> list[Any]:
    docs: list[Any] = []
    for path in sorted(FIXTURES.rglob("*.yaml")):
        try:
            docs += yamlio.load_all(path.read_bytes(), unknown_tags="plain")
        except yamlio.YamlError:
            continue
    return [d for d in docs if isinstance(d, dict | list)]


def test_libyaml_emitter_writes_the_same_bytes_on_every_fixture_document() -> None:
    docs = _documents()
    assert len(docs) > 100
    for doc in docs:
        expected = yaml.dump(doc, Dumper=_PurePythonDumper, sort_keys=True, allow_unicode=True, width=1_000_000)
        assert yamlio.dump(doc) == expected


@pytest.mark.parametrize(
    "value",
    ["y", "1e3", "0777", "1:30", "2001-12-14", "", " lead", "trail ", "a: b", "- x", "#c", "multi\nline\n", "\u2028",
     "ünïcödé", "null", "~", "'quoted'", '"dq"', "tab\there", "@at", "`tick"],
)  # fmt: skip
def test_libyaml_emitter_quotes_like_the_pure_python_one(value: str) -> None:
    doc = {"k": value, "list": [value], "nested": {"v": value}}
    expected = yaml.dump(doc, Dumper=_PurePythonDumper, sort_keys=True, allow_unicode=True, width=1_000_000)
    assert yamlio.dump(doc) == expected
    assert yamlio.load(yamlio.dump(doc)) == doc


def test_without_libyaml_a_command_stops_at_once_with_one_line() -> None:
    script = (
        "import sys\n"
        "sys.modules['yaml._yaml'] = None  # as if PyYAML had been built without libyaml\n"
        "from fluxform.cli import main\n"
        f"main(['plan', {str(FIXTURES / 'minimal/clusters/dev')!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: PyYAML was installed without libyaml, its C parser and emitter, which fluxform needs (hint: pip "
        "install --force-reinstall pyyaml (the PyPI wheels include it), or install libyaml's headers (libyaml-dev) "
        "before building PyYAML)"
    ]


def test_a_warm_plan_parses_no_build_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold, each document kustomize wrote is parsed exactly once (in its build's thread, not
    again by discovery or postbuild); warm, the build cache hands them back parsed."""
    from fluxform.planner.kustomization import output
    from fluxform.planner.kustomization.cache import BuildCache
    from fluxform.planner.kustomization.discover import DiscoverOptions, discover

    written: set[str] = set()
    split = output.split_documents

    def recorded_split(text: str) -> list[str]:
        documents = split(text)
        written.update(documents)
        return documents

    monkeypatch.setattr(output, "split_documents", recorded_split)
    parsed: list[str] = []
    parse = yamlio._parse_all

    def recorded(text: str | bytes, unknown_tags: str) -> list[Any]:
        parsed.append(text if isinstance(text, str) else text.decode())
        return parse(text, unknown_tags)

    monkeypatch.setattr(yamlio, "_parse_all", recorded)
    options = DiscoverOptions(cache=BuildCache(tmp_path / "cache"), jobs=1)
    runs = []
    for _ in ("cold", "warm"):
        monkeypatch.setattr(yamlio, "_MEMO", yamlio._ParseMemo(1 << 20))  # a new run
        parsed.clear()
        discover(FIXTURES / "fleet/clusters/staging", options)
        runs.append([text for text in parsed if text in written])
    cold, warm = runs
    assert len(written) > 20
    assert sorted(cold) == sorted(written)  # each once
    assert warm == []
