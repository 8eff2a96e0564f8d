"""Pins the Helm SDK wheel behaviours fluxform relies on or works around."""

from __future__ import annotations

import os
from pathlib import Path

import helm_python
import pytest

from fluxform.errors import RenderError
from fluxform.helm.sdk import (
    DEFAULT_KUBE_VERSION,
    PINNED_SDK,
    RenderOptions,
    chart_crds,
    check_sdk,
    dependency_status,
    load_chart,
    parse_values_yaml,
    parse_yaml_document,
    render_chart,
    sdk_version,
    use_private_helm_home,
)
from tests.support.charts_http import write_chart

CAPS = """\
kube: {{ .Capabilities.KubeVersion.Version }}
gv: {{ .Capabilities.APIVersions.Has "example.com/v1" }}
gvk: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" }}
apps: {{ .Capabilities.APIVersions.Has "apps/v1" }}
"""
CRD = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {name}\n"


@pytest.fixture
def chart_dir(tmp_path: Path) -> Path:
    chart = write_chart(
        tmp_path,
        "app",
        "1.0.0",
        templates={"caps.yaml": CAPS},
        values={"sub": {"enabled": False}},
        crds={"a.yaml": CRD.format(name="as.example.com")},
        dependencies=[{"name": "sub", "version": "0.1.0", "condition": "sub.enabled"}],
    )
    write_chart(
        chart / "charts",
        "sub",
        "0.1.0",
        templates={"s.yaml": "kind: x\n"},
        crds={"b.yaml": CRD.format(name="bs.example.com")},
    )
    return chart


def test_pinned_version() -> None:
    check_sdk()
    assert helm_python.__version__ == PINNED_SDK
    assert sdk_version().startswith(f"helm-python-sdk {PINNED_SDK} (Helm v4.")


def test_capabilities_through_the_private_call(chart_dir: Path) -> None:
    with load_chart(chart_dir) as chart:
        default = render_chart(chart, {}, RenderOptions("r", "ns"))
    assert default["app/templates/caps.yaml"] == f"kube: {DEFAULT_KUBE_VERSION}\ngv: false\ngvk: false\napps: true\n"
    with load_chart(chart_dir) as chart:
        given = render_chart(
            chart, {}, RenderOptions("r", "ns", kube_version="v1.29.3", api_versions=("example.com/v1/Widget",))
        )
    assert (
        given["app/templates/caps.yaml"] == "kube: v1.29.3\ngv: true\ngvk: true\napps: true\n"
    )  # a Kind implies its group/version; additive


def test_render_mutates_the_loaded_chart(chart_dir: Path) -> None:
    """Why every render loads the chart afresh: disabled subcharts are pruned for good."""
    with load_chart(chart_dir) as chart:
        assert len(chart_crds(chart)) == 2
        render_chart(chart, {}, RenderOptions("r", "ns"))
        assert [c["name"] for c in chart_crds(chart)] == ["crds/a.yaml"]  # sub disabled -> its CRD gone
        assert "app/charts/sub/templates/s.yaml" not in render_chart(
            chart, {"sub": {"enabled": True}}, RenderOptions("r", "ns")
        )
    with load_chart(chart_dir) as fresh:
        assert "app/charts/sub/templates/s.yaml" in render_chart(
            fresh, {"sub": {"enabled": True}}, RenderOptions("r", "ns")
        )


def test_missing_dependency_is_silently_dropped_by_helm(tmp_path: Path) -> None:
    chart = write_chart(
        tmp_path, "app", "1.0.0", templates={"cm.yaml": "a: b\n"},
        dependencies=[{"name": "gone", "version": "1.0.0", "repository": "file://../gone"}],
    )  # fmt: skip
    assert [d["status"] for d in dependency_status(chart)] == ["missing"]
    with load_chart(chart) as loaded:
        assert list(render_chart(loaded, {}, RenderOptions("r", "ns"))) == ["app/templates/cm.yaml"]


def test_errors_are_render_errors(tmp_path: Path) -> None:
    chart = write_chart(tmp_path, "bad", "1.0.0", templates={"t.yaml": "{{ .Values.x.y.z }}\n"})
    with load_chart(chart) as loaded, pytest.raises(RenderError, match="chart template failed to render") as info:
        render_chart(loaded, {}, RenderOptions("r", "ns"))
    assert "bad/templates/t.yaml" in info.value.detail
    with pytest.raises(RenderError, match="chart could not be loaded"), load_chart(tmp_path / "nowhere"):
        pass


def test_values_yaml_follows_helm(tmp_path: Path) -> None:
    assert parse_values_yaml("on: yes\nn: 1\nlist: [a, 1]\n") == {"true": True, "false": 1, "list": ["a", 1]}
    with pytest.raises(RenderError):
        parse_values_yaml("a: [")


def test_private_helm_home() -> None:
    use_private_helm_home()
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        home = Path(os.environ[var])
        assert home.is_dir() and oct(home.parent.stat().st_mode)[-3:] == "700"
        assert not str(home).startswith(str(Path.home()))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# only a comment\n", {}),
        ("a: 1.0\nb: 0777\nc: 2001-12-14\nd: yes\n", {"a": 1, "b": 511, "c": "2001-12-14", "d": True}),
        ("big: 9007199254740993\n", {"big": 9007199254740993}),  # exact: no float64 hop for long numbers
    ],
    ids=["comment", "go-scalars", "long-integer"],
)
def test_parse_yaml_document(text: str, expected: dict[str, object]) -> None:
    assert parse_yaml_document(text) == expected
