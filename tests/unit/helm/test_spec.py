"""HelmReleaseSpec.from_doc: defaults and clear errors for bad HelmReleases."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fluxform.errors import RenderError
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.objects import SourceLocation

BASE: dict[str, Any] = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {"name": "podinfo", "namespace": "apps"},
    "spec": {
        "interval": "5m",
        "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "repo"}}},
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    node = doc
    *parents, last = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()


def test_defaults() -> None:
    hr = HelmReleaseSpec.from_doc(BASE, SourceLocation("apps/podinfo.yaml"))
    assert hr.chart_template is not None
    assert hr.chart_template.version == "*"
    assert hr.chart_template.source_ref.namespace == "apps"  # defaults to the HelmRelease namespace
    assert (hr.install_crds, hr.upgrade_crds, hr.post_render_strategy) == ("Create", "Create", "combined")
    assert hr.values == {} and hr.values_from == () and hr.chart_ref is None


def test_chart_ref_and_values_from() -> None:
    doc = _with("spec.chart", _DELETE)
    doc["spec"]["chartRef"] = {"kind": "OCIRepository", "name": "podinfo", "namespace": "flux-system"}
    doc["spec"]["valuesFrom"] = [{"kind": "Secret", "name": "s", "targetPath": "a.b", "optional": True}]
    hr = HelmReleaseSpec.from_doc(doc)
    assert hr.chart_ref is not None and hr.chart_ref.namespace == "flux-system"
    assert hr.values_from[0].values_key == "values.yaml" and hr.values_from[0].optional


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_with("kind", "Kustomization"), "not a HelmRelease"),
        (_with("metadata.namespace", _DELETE), "needs metadata.name and metadata.namespace"),
        (_with("spec", _DELETE), "missing spec"),
        (_with("spec.chart", _DELETE), "exactly one of spec.chart and spec.chartRef"),
        (_with("spec.chartRef", {"kind": "OCIRepository", "name": "x"}), "exactly one of spec.chart and spec.chartRef"),
        (_with("spec.chart.spec.sourceRef.kind", "Nope"), "kind must be one of HelmRepository, GitRepository, Bucket"),
        (_with("spec.chart.spec.version", 1.0), "version must be a string"),
        (_with("spec.values", ["a"]), "values must be a mapping"),
        (_with("spec.valuesFrom", [{"kind": "Pod", "name": "x"}]), "kind must be one of ConfigMap, Secret"),
        (_with("spec.install", {"crds": "Always"}), "crds must be one of Skip, Create, CreateReplace"),
        (_with("spec.postRenderStrategy", "later"), "postRenderStrategy must be one of"),
        (_with("spec.postRenderers", [{"kustomize": {"patches": [{"target": {}}]}}]), "need a patch string"),
        (_with("spec.commonMetadata", {"labels": {"a": 1}}), "labels values must be strings"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_errors_name_the_object(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError) as info:
        HelmReleaseSpec.from_doc(doc, SourceLocation("apps/podinfo.yaml", line=3))
    assert message in info.value.one_line()
    assert "(apps/podinfo.yaml:3)" in info.value.one_line()


def test_apply_fields_default_to_helm_controllers() -> None:
    hr = HelmReleaseSpec.from_doc(BASE)
    assert (hr.interval, hr.timeout, hr.service_account_name) == ("5m", "", "")
    assert (hr.install_disable_wait, hr.upgrade_disable_wait, hr.upgrade_force) == (False, False, False)


def test_apply_fields_as_written() -> None:
    doc = _with("spec.timeout", "10m")
    doc["spec"].update(serviceAccountName="helm", install={"disableWait": True}, upgrade={"force": True})
    hr = HelmReleaseSpec.from_doc(doc)
    assert (hr.timeout, hr.service_account_name, hr.install_disable_wait, hr.upgrade_force) == (
        "10m",
        "helm",
        True,
        True,
    )
    with pytest.raises(RenderError, match="disableWait must be true or false"):
        HelmReleaseSpec.from_doc(_with("spec.upgrade", {"disableWait": "no"}))
