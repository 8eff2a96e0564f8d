"""Which charts render differently each time (never cached): the rule reads template
actions of the chart and its subcharts, not field names, strings or comments."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fluxform.helm.chart_dir import tree_digest
from fluxform.helm.chart_model import ChartDependency, ResolvedChart
from fluxform.helm.determinism import nondeterministic_call
from tests.support.charts_http import write_chart

CALLS = [
    "{{ randAlphaNum 10 }}",
    "{{ randAlpha 4 | quote }}",
    "{{ randNumeric 6 }}",
    "{{ randAscii 8 }}",
    "{{ randBytes 8 }}",
    "{{ randInt 1 9 }}",
    "{{ shuffle .Values.name }}",
    '{{ genCA "ca" 365 }}',
    '{{ genPrivateKey "rsa" }}',
    '{{ genSelfSignedCert "x" nil nil 365 }}',
    '{{ genSignedCert "x" nil nil 365 $ca }}',
    '{{ genSelfSignedCertWithKey "x" nil nil 365 $k }}',
    "{{ uuidv4 }}",
    "{{- now | quote -}}",
    '{{ date "2006" .Values.when }}',
    '{{ dateInZone "2006" (now) "UTC" }}',
    '{{ dateModify "-1h" .x }}',
    "{{ htmlDate .x }}",
    "{{ ago .x }}",
    "{{ unixEpoch .x }}",
    '{{ (lookup "v1" "Secret" "ns" "name").data }}',
    '{{ getHostByName "example.com" }}',
    '{{ encryptAES "k" "t" }}',
    '{{ htpasswd "u" "p" }}',
    '{{ bcrypt "p" }}',
    "{{ $x := list 1 2 | shuffle }}",
]
NOT_CALLS = [
    "{{ .Values.date }}",
    "{{ .Values.now | quote }}",
    '{{ .Values.x | default "now" }}',
    "{{/* randAlphaNum would be wrong here */}}",
    '{{ include "app.lookup" . }}',
    '{{ toDate "2006-01-02" "2024-05-01" }}',
    "{{ $date := .Values.when }}{{ $date }}",
    "random text outside an action: now, uuidv4, lookup",
    "{{ .Release.Name }}-{{ .Chart.Version }}",
]


def _resolved(chart_dir: Path, **extra: Any) -> ResolvedChart:
    return ResolvedChart("app", "1.0.0", "test", tree_digest(chart_dir), path=chart_dir, **extra)


def _template(tmp_path: Path, text: str) -> Path:
    return write_chart(tmp_path, "app", "1.0.0", templates={"cm.yaml": f"data:\n  x: {text}\n"})


@pytest.mark.parametrize("text", CALLS)
def test_a_call_in_a_template_action_is_found(tmp_path: Path, text: str) -> None:
    assert nondeterministic_call(_resolved(_template(tmp_path, text)), {}) is not None


@pytest.mark.parametrize("text", NOT_CALLS)
def test_fields_strings_comments_and_plain_text_are_not_calls(tmp_path: Path, text: str) -> None:
    assert nondeterministic_call(_resolved(_template(tmp_path, text)), {}) is None


def test_a_call_in_a_helper_file_counts(tmp_path: Path) -> None:
    chart = write_chart(tmp_path, "app", "1.0.0", templates={"_helpers.tpl": '{{ define "p" }}{{ uuidv4 }}{{ end }}'})
    assert nondeterministic_call(_resolved(chart), {}) == "uuidv4 in templates/_helpers.tpl"


def test_values_are_templates_when_a_template_calls_tpl(tmp_path: Path) -> None:
    chart = write_chart(
        tmp_path, "app", "1.0.0", templates={"cm.yaml": "x: {{ tpl .Values.text . }}\n"}, values={"text": "plain"}
    )
    resolved = _resolved(chart)
    assert nondeterministic_call(resolved, {"text": "hello {{ .Release.Name }}"}) is None
    assert nondeterministic_call(resolved, {"text": "{{ randAlphaNum 5 }}"}) == "tpl of values calling randAlphaNum"
    (chart / "values.yaml").write_text("text: '{{ now }}'\n")
    assert nondeterministic_call(_resolved(chart), {}) == "tpl of values calling now"


def test_values_are_not_read_without_tpl(tmp_path: Path) -> None:
    chart = write_chart(tmp_path, "app", "1.0.0", templates={"cm.yaml": "x: {{ .Values.text }}\n"})
    assert nondeterministic_call(_resolved(chart), {"text": "{{ randAlphaNum 5 }}"}) is None


def _archive(chart_dir: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(chart_dir, arcname=chart_dir.name)
    return out.getvalue()


def test_subcharts_vendored_archived_or_added_are_read(tmp_path: Path) -> None:
    sub = write_chart(tmp_path / "src", "sub", "0.1.0", templates={"s.yaml": "id: {{ uuidv4 }}\n"})
    vendored = write_chart(tmp_path / "a", "app", "1.0.0", templates={"cm.yaml": "x: 1\n"})
    (vendored / "charts").mkdir()
    (vendored / "charts" / "sub-0.1.0.tgz").write_bytes(_archive(sub))
    assert nondeterministic_call(_resolved(vendored), {}) == "uuidv4 in charts/sub-0.1.0.tgz/sub/templates/s.yaml"

    plain = write_chart(tmp_path / "b", "app", "1.0.0", templates={"cm.yaml": "x: 1\n"})
    assert nondeterministic_call(_resolved(plain), {}) is None
    by_path = _resolved(plain, dependencies=(ChartDependency("sub", path=sub),))
    by_archive = _resolved(plain, dependencies=(ChartDependency("sub", data=_archive(sub)),))
    assert nondeterministic_call(by_path, {}) is not None and nondeterministic_call(by_archive, {}) is not None


def test_a_chart_archive_is_read(tmp_path: Path) -> None:
    chart = write_chart(tmp_path, "app", "1.0.0", templates={"cm.yaml": "x: {{ now }}\n"})
    resolved = ResolvedChart("app", "1.0.0", "test", "sha256:archive", data=_archive(chart))
    assert nondeterministic_call(resolved, {}) == "now in app/templates/cm.yaml"
