"""Values composition: valuesFrom in order, then inline, with Flux's targetPath aliasing."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from typing import Any

import pytest

from fluxform.errors import RenderError
from fluxform.helm.spec import HelmReleaseSpec
from fluxform.helm.values import compose_values, merge_maps


def _hr(values: dict[str, Any] | None = None, values_from: list[dict[str, Any]] | None = None) -> HelmReleaseSpec:
    spec: dict[str, Any] = {
        "interval": "5m",
        "chart": {"spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "repo"}}},
    }
    if values is not None:
        spec["values"] = values
    if values_from is not None:
        spec["valuesFrom"] = values_from
    doc = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": spec,
    }
    return HelmReleaseSpec.from_doc(doc)


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}, "data": data}


def _secret(name: str, data: dict[str, str], string_data: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "apps"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
    if string_data:
        doc["stringData"] = string_data
    return doc


def _lookup(*docs: dict[str, Any]) -> Any:
    table = {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in docs}

    def lookup(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        return table.get((kind, namespace, name))

    return lookup


def test_merge_order_valuesfrom_then_inline() -> None:
    hr = _hr(
        values={"image": {"tag": "inline"}, "ports": [9]},
        values_from=[{"kind": "ConfigMap", "name": "base"}, {"kind": "Secret", "name": "prod", "valuesKey": "v.yaml"}],
    )
    lookup = _lookup(
        _configmap("base", {"values.yaml": "image: {repo: a, tag: base}\nports: [1, 2]\nreplicas: 1\n"}),
        _secret("prod", {"v.yaml": "replicas: 3\nports: [3]\n"}),
    )
    composed = compose_values(hr, lookup)
    assert composed.values == {"image": {"repo": "a", "tag": "inline"}, "ports": [9], "replicas": 3}
    assert composed.sources == (
        "ConfigMap/apps/base (values.yaml)",
        "Secret/apps/prod (v.yaml)",
        "spec.values",
    )


def test_values_documents_are_read_as_helm_reads_them() -> None:
    # sigs.k8s.io/yaml (YAML 1.1): an unquoted `y` key is the boolean true
    hr = _hr(values_from=[{"kind": "ConfigMap", "name": "cm"}])
    composed = compose_values(hr, _lookup(_configmap("cm", {"values.yaml": "y: 1\nname: on\n"})))
    assert composed.values == {"true": 1, "name": True}


@pytest.mark.parametrize(
    ("raw", "literal", "expected"),
    [
        ("true", False, True),
        ("42", False, 42),
        ("007", False, "007"),
        ('"42"', False, "42"),
        ("'quoted'", False, "quoted"),
        ("{a,b}", False, ["a", "b"]),
        ("a,b=c", True, "a,b=c"),
        ("[x]\\y", True, "[x]\\y"),
    ],
    ids=["bool", "int", "leading-zero", "double-quoted", "single-quoted", "list", "literal-comma", "literal-brackets"],
)
def test_target_path_value_parsing(raw: str, literal: bool, expected: Any) -> None:
    ref = {"kind": "Secret", "name": "s", "valuesKey": "k", "targetPath": "a.b", "literal": literal}
    composed = compose_values(_hr(values_from=[ref]), _lookup(_secret("s", {"k": raw})))
    assert composed.values == {"a": {"b": expected}}


def test_target_path_escaped_dot_and_index() -> None:
    refs = [
        {
            "kind": "ConfigMap",
            "name": "cm",
            "valuesKey": "host",
            "targetPath": r"ingress.annotations.kubernetes\.io/host",
        },
        {"kind": "ConfigMap", "name": "cm", "valuesKey": "port", "targetPath": "ports[1]"},
    ]
    lookup = _lookup(_configmap("cm", {"host": "example.com", "port": "8080"}))
    composed = compose_values(_hr(values_from=refs), lookup)
    assert composed.values == {"ingress": {"annotations": {"kubernetes.io/host": "example.com"}}, "ports": [None, 8080]}


def test_target_path_wins_when_parent_map_came_only_from_inline() -> None:
    """Go shares inline's nested map with the result, and the path set mutates it."""
    hr = _hr(
        values={"tls": {"crt": "inline", "other": 1}},
        values_from=[{"kind": "Secret", "name": "tls", "valuesKey": "crt", "targetPath": "tls.crt"}],
    )
    composed = compose_values(hr, _lookup(_secret("tls", {"crt": "from-secret"})))
    assert composed.values == {"tls": {"crt": "from-secret", "other": 1}}
    assert composed.diagnostics == ()


def test_inline_wins_when_earlier_valuesfrom_created_the_parent_map() -> None:
    hr = _hr(
        values={"tls": {"crt": "inline"}},
        values_from=[
            {"kind": "ConfigMap", "name": "base"},
            {"kind": "Secret", "name": "tls", "valuesKey": "crt", "targetPath": "tls.crt"},
        ],
    )
    lookup = _lookup(_configmap("base", {"values.yaml": "tls: {key: k}\n"}), _secret("tls", {"crt": "from-secret"}))
    composed = compose_values(hr, lookup)
    assert composed.values == {"tls": {"key": "k", "crt": "inline"}}
    assert len(composed.diagnostics) == 1
    assert "overridden by spec.values" in composed.diagnostics[0].summary


def test_inline_wins_for_top_level_scalar() -> None:
    hr = _hr(
        values={"replicas": 1},
        values_from=[{"kind": "ConfigMap", "name": "cm", "valuesKey": "n", "targetPath": "replicas"}],
    )
    composed = compose_values(hr, _lookup(_configmap("cm", {"n": "5"})))
    assert composed.values == {"replicas": 1}
    assert len(composed.diagnostics) == 1


def test_inline_values_of_the_manifest_are_never_mutated() -> None:
    inline = {"tls": {"crt": "inline"}}
    hr = _hr(
        values=copy.deepcopy(inline),
        values_from=[{"kind": "Secret", "name": "t", "valuesKey": "c", "targetPath": "tls.crt"}],
    )
    compose_values(hr, _lookup(_secret("t", {"c": "x"})))
    assert hr.values == inline


@pytest.mark.parametrize(
    ("docs", "ref"),
    [
        ((), {"kind": "ConfigMap", "name": "missing", "optional": True}),
        ((_configmap("cm", {"other": "a: 1"}),), {"kind": "ConfigMap", "name": "cm", "optional": True}),
    ],
    ids=["missing-object", "missing-key"],
)
def test_optional_references_are_skipped(docs: tuple[dict[str, Any], ...], ref: dict[str, Any]) -> None:
    composed = compose_values(_hr(values={"a": 2}, values_from=[ref]), _lookup(*docs))
    assert composed.values == {"a": 2}
    assert composed.sources == ("spec.values",)


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ((), "could not resolve ConfigMap chart values reference 'apps/cm' with key 'values.yaml': resource not found"),
        ((_configmap("cm", {"x": ""}),), "with key 'values.yaml': key not found"),
        ((_configmap("cm", {"values.yaml": "a: [1"}),), "failed to read values data"),
    ],
    ids=["missing-object", "missing-key", "bad-yaml"],
)
def test_required_reference_errors_name_the_helmrelease(docs: tuple[dict[str, Any], ...], message: str) -> None:
    with pytest.raises(RenderError) as info:
        compose_values(_hr(values_from=[{"kind": "ConfigMap", "name": "cm"}]), _lookup(*docs))
    assert message in info.value.summary
    assert info.value.one_line().startswith("HelmRelease/apps/podinfo")


def test_bad_target_path_is_an_error() -> None:
    hr = _hr(
        values={"a": "scalar"}, values_from=[{"kind": "ConfigMap", "name": "cm", "valuesKey": "k", "targetPath": "a.b"}]
    )
    with pytest.raises(RenderError, match="failed to merge value"):
        compose_values(hr, _lookup(_configmap("cm", {"k": "1"})))


def test_secret_string_data_overrides_data() -> None:
    secret = _secret("s", {"values.yaml": "a: 1"}, string_data={"values.yaml": "a: 2"})
    composed = compose_values(_hr(values_from=[{"kind": "Secret", "name": "s"}]), _lookup(secret))
    assert composed.values == {"a": 2}


def test_merge_maps_replaces_lists_and_scalars_with_maps() -> None:
    assert merge_maps({"a": [1, 2], "b": 1, "c": {"x": 1}}, {"a": [3], "b": {"y": 2}, "c": {"z": 3}}) == {
        "a": [3],
        "b": {"y": 2},
        "c": {"x": 1, "z": 3},
    }
