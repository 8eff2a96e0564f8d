"""Protobuf request bodies, built here byte by byte from the generated.proto field numbers
(kubectl and Helm, the real senders, are exercised in test_kubectl.py and test_helm.py)."""

from __future__ import annotations

import base64

import pytest

from tests.kubeapi import KubeApi
from tests.support.kubeclient import configmap, deployment, raw

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _int(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _entry(number: int, key: str, value: bytes | str) -> bytes:
    return _bytes(number, _bytes(1, key) + _bytes(2, value))


def _envelope(api_version: str, kind: str, raw_object: bytes) -> bytes:
    """`k8s\\0` + runtime.Unknown {1 TypeMeta {1 apiVersion, 2 kind}, 2 raw}."""
    return b"k8s\x00" + _bytes(1, _bytes(1, api_version) + _bytes(2, kind)) + _bytes(2, raw_object)


def _meta(name: str, **labels: str) -> bytes:
    # Go's protobuf marshaller writes empty non-pointer strings (generateName, selfLink, ...)
    # and the zero creationTimestamp (seconds -62135596800): the server must read those as unset.
    zero_time = _bytes(8, _varint(1 << 3) + _varint((1 << 64) - 62135596800))
    out = _bytes(1, name) + _bytes(2, "") + _bytes(4, "") + zero_time + _int(7, 0)
    return out + b"".join(_entry(11, k, v) for k, v in labels.items())


def test_a_secret_with_binary_data_is_stored_as_its_json_form(kubeapi: KubeApi) -> None:
    secret = _bytes(1, _meta("creds", app="web")) + _entry(2, "key", b"\x00\xffbin") + _bytes(3, "")
    status, body = raw(
        kubeapi, "POST", "/api/v1/namespaces/default/secrets", _envelope("v1", "Secret", secret), PROTOBUF
    )
    assert status == 201, body
    assert body["data"] == {"key": base64.b64encode(b"\x00\xffbin").decode()}
    assert body["type"] == "Opaque"  # the empty type was unset, so defaulted
    meta = body["metadata"]
    assert meta["labels"] == {"app": "web"} and "generateName" not in meta and "generation" not in meta
    assert meta["creationTimestamp"].startswith("20")  # stamped by the server, not year 1


def test_a_configmap_replaced_with_protobuf_keeps_the_optimistic_lock(kubeapi: KubeApi) -> None:
    created = kubeapi.server.create(configmap("settings", k="v1"))
    stale = _bytes(1, _meta("settings") + _bytes(6, "1")) + _entry(2, "k", "v2")
    path = "/api/v1/namespaces/default/configmaps/settings"
    status, body = raw(kubeapi, "PUT", path, _envelope("v1", "ConfigMap", stale), PROTOBUF)
    assert (status, body["reason"]) == (409, "Conflict")
    fresh = _bytes(1, _meta("settings") + _bytes(6, created["metadata"]["resourceVersion"])) + _entry(2, "k", "v2")
    status, body = raw(kubeapi, "PUT", path, _envelope("v1", "ConfigMap", fresh), PROTOBUF)
    assert (status, body["data"]) == (200, {"k": "v2"})


@pytest.mark.parametrize("api_version", ["v1", "meta.k8s.io/v1"])
def test_delete_options_preconditions_and_propagation_policy(kubeapi: KubeApi, api_version: str) -> None:
    created = kubeapi.server.create(deployment("web"))
    path = "/apis/apps/v1/namespaces/default/deployments/web"
    wrong_uid = _bytes(2, _bytes(1, "not-the-uid"))
    status, body = raw(kubeapi, "DELETE", path, _envelope(api_version, "DeleteOptions", wrong_uid), PROTOBUF)
    assert (status, body["reason"]) == (409, "Conflict") and "Precondition failed" in body["message"]
    raw(kubeapi, "GET", path)  # the simulated controller creates the ReplicaSet on this read
    assert len(kubeapi.server.objects(kind="ReplicaSet")) == 1
    orphan = _bytes(2, _bytes(1, created["metadata"]["uid"])) + _bytes(4, "Orphan")
    status, body = raw(kubeapi, "DELETE", path, _envelope(api_version, "DeleteOptions", orphan), PROTOBUF)
    assert (status, body["status"]) == (200, "Success")
    assert kubeapi.server.objects(kind="Deployment") == []
    (orphaned,) = kubeapi.server.objects(kind="ReplicaSet")  # Orphan: the dependent survives its owner
    assert orphaned["metadata"]["name"].startswith("web-")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (_envelope("apps/v1", "Deployment", _bytes(1, _meta("web"))), 415, "not Deployment (apps/v1)"),
        (b"k8s\x00" + _bytes(1, b"\x0a\x20short"), 400, "cannot decode the protobuf body"),
        (b"\x0a\x02v1", 400, "without the k8s\\x00 prefix"),
    ],
    ids=["unknown-kind", "truncated", "no-magic"],
)
def test_bodies_it_cannot_read_are_refused(kubeapi: KubeApi, body: bytes, status: int, message: str) -> None:
    answer_status, answer = raw(kubeapi, "POST", "/api/v1/namespaces/default/secrets", body, PROTOBUF)
    assert answer_status == status and message in answer["message"]
    assert kubeapi.server.objects(kind="Secret") == []
