from __future__ import annotations

import pytest

from tests.kubeapi.errors import ApiError
from tests.kubeapi.selectors import matches_fields, matches_labels, parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "frontend", "track": ""}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (web, api)", True),
        ("app in (api,db)", False),
        ("app notin (api,db)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("track=", True),
        ("app=web,tier=frontend", True),
        ("app=web,tier=backend", False),
        ("app in (web,api),!legacy,tier", True),
    ],
)
def test_label_selector(selector: str, expected: bool) -> None:
    assert matches_labels(parse_label_selector(selector), LABELS) is expected


@pytest.mark.parametrize("selector", ["app in web", "=web", "a=b=c", "app>1"])
def test_label_selector_rejects_malformed(selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(selector)
    assert caught.value.code == 400


OBJ = {"metadata": {"name": "db", "namespace": "prod"}, "type": "kubernetes.io/tls"}


@pytest.mark.parametrize(
    ("selector", "kind", "expected"),
    [
        ("metadata.name=db", "ConfigMap", True),
        ("metadata.name==db", "ConfigMap", True),
        ("metadata.name!=db", "ConfigMap", False),
        ("metadata.namespace=prod,metadata.name=db", "ConfigMap", True),
        ("metadata.namespace=dev", "ConfigMap", False),
        ("type=kubernetes.io/tls", "Secret", True),
    ],
)
def test_field_selector(selector: str, kind: str, expected: bool) -> None:
    assert matches_fields(parse_field_selector(selector, kind), OBJ) is expected


def test_field_selector_rejects_unsupported_field() -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector("spec.replicas=1", "Deployment")
    assert (caught.value.code, caught.value.message) == (400, "field label not supported: spec.replicas")
