"""Helm's release storage read and unlocked through fluxform's client (helm/storage.py), against
records the real Helm SDK wrote, and read back by the SDK after fluxform wrote them."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from fluxform.cluster.client import connect
from fluxform.errors import ClusterError
from fluxform.helm.storage import ReleaseUnreadable, mark_failed, read_history
from fluxform.helm.values import values_digest
from tests.kubeapi import KubeApi
from tests.support.releases import NAMESPACE, RELEASE, ReleaseBench


def _edited(secret: dict[str, Any], **changes: dict[str, str]) -> dict[str, Any]:
    """An apply configuration of `secret` with `changes` (labels or data) merged in."""
    meta = secret["metadata"]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": dict(meta["labels"])},
        "data": dict(secret["data"]),
    }
    body["metadata"]["labels"].update(changes.get("labels", {}))
    body["data"].update(changes.get("data", {}))
    return body


def test_history_as_helm_wrote_it(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply({"replicas": 2})
    bench.apply({"replicas": 3, "greeting": "hey"})
    with connect(bench.options) as cluster:
        history = read_history(cluster, NAMESPACE, RELEASE)
        assert read_history(cluster, "nowhere", RELEASE) == []  # a namespace that does not exist holds none
        assert read_history(cluster, NAMESPACE, "other") == []
    assert [(h.version, h.status, h.chart_name, h.chart_version) for h in history] == [
        (1, "superseded", RELEASE, "0.1.0"), (2, "deployed", RELEASE, "0.1.0"),
    ]  # fmt: skip
    latest = history[-1]
    assert (latest.namespace, latest.storage_namespace, latest.apply_method) == (NAMESPACE, NAMESPACE, "ssa")
    assert latest.secret_name == f"sh.helm.release.v1.{RELEASE}.v2" and latest.description == "Upgrade complete"
    assert latest.config_digest == values_digest({"replicas": 3, "greeting": "hey"})
    assert "name: shop-web" in latest.manifest and "replicas: 3" in latest.manifest


def test_marked_failed_is_what_helm_reads(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    with connect(bench.options) as cluster:
        [stored] = read_history(cluster, NAMESPACE, RELEASE)
        failed = mark_failed(cluster, stored, "Release unlocked from stale 'pending-install' state")
    assert (failed.version, failed.status, failed.description) == (
        1,
        "failed",
        "Release unlocked from stale 'pending-install' state",
    )
    assert bench.history() == [(1, "failed")]
    secret = kubeapi.server.get(("", "Secret", NAMESPACE, stored.secret_name))
    assert secret is not None and secret["metadata"]["labels"]["status"] == "failed"
    assert secret["metadata"]["labels"]["modifiedAt"].isdigit()
    with bench.helm() as helm:  # the SDK decodes what fluxform encoded: chart, values, manifest intact
        release = helm.get_all(RELEASE)
        assert release["info"]["status"] == "failed" and release["summary"]["chart_name"] == RELEASE
        assert helm.status(RELEASE)["manifest"] == stored.manifest


def test_a_record_that_moved_since_it_was_read_is_not_overwritten(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    with connect(bench.options) as cluster:
        [stale] = read_history(cluster, NAMESPACE, RELEASE)
        secret = kubeapi.server.get(("", "Secret", NAMESPACE, stale.secret_name))
        assert secret is not None
        kubeapi.server.apply(_edited(secret, labels={"touched": "yes"}), manager="someone")
        with pytest.raises(ClusterError, match=r"cannot mark .* failed"):
            mark_failed(cluster, stale, "unlock")
    assert bench.history() == [(1, "deployed")]


def test_unreadable_records_and_storage_are_one_clear_error(kubeapi: KubeApi, tmp_path: Path) -> None:
    bench = ReleaseBench(kubeapi, tmp_path)
    bench.apply()
    secret = kubeapi.server.get(("", "Secret", NAMESPACE, f"sh.helm.release.v1.{RELEASE}.v1"))
    assert secret is not None
    kubeapi.server.apply(
        _edited(secret, data={"release": base64.b64encode(b"not base64 of gzip!").decode()}),
        manager="vandal",
        force=True,
    )
    with connect(bench.options) as cluster:
        with pytest.raises(ReleaseUnreadable, match=f"sh.helm.release.v1.{RELEASE}.v1 cannot be decoded"):
            read_history(cluster, NAMESPACE, RELEASE)
        kubeapi.server.forbid(verb="list", resource="secrets")
        with pytest.raises(ReleaseUnreadable) as caught:
            read_history(cluster, NAMESPACE, RELEASE)
    assert "get/list on Secrets" in caught.value.one_line()
