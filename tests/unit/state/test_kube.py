"""Kubernetes backend against the API emulator: the shared contract, plus Secrets split in
parts, optimistic concurrency (409), Lease expiry, renewal and takeover."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from fluxform.commands.state import force_unlock, state_group
from fluxform.errors import StateError
from fluxform.state.kube import KubeBackend, default_state_name
from fluxform.state.lease import LOCK_ANNOTATION, micro_time, parse_time
from fluxform.state.lock import LockHeld, new_lock_info
from fluxform.state.model import next_revision
from tests.kubeapi.launch import KubeApi
from tests.support.cli import invoke
from tests.support.kubeclient import api_client, meta, present
from tests.support.states import fleet_state, small_state
from tests.unit.state.backend_contract import BackendContract

NAMESPACE = "fluxform-state"
CONTEXT = "kubeapi"
REPO = Path(__file__).resolve().parents[3]
SMALL_PARTS = 48 * 1024  # makes the contract's large state span several Secrets


def _api(kubeapi: KubeApi) -> client.ApiClient:
    """The kubernetes package's own client: an independent reader of what the backend wrote."""
    return api_client(kubeapi)


def _cluster(kubeapi: KubeApi) -> ClusterClient:
    """fluxform's cluster client, as the backend gets it from open_backend."""
    return connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig, context=CONTEXT))


def _namespace(name: str) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name))


@pytest.fixture
def cluster(kubeapi: KubeApi) -> KubeApi:
    client.CoreV1Api(_api(kubeapi)).create_namespace(_namespace(NAMESPACE))
    return kubeapi


def _factory(cluster: KubeApi, **options: Any) -> Callable[[], KubeBackend]:
    settings = {"namespace": NAMESPACE, "name": "test", "lease_seconds": 2.0, **options}
    return lambda: KubeBackend(_cluster(cluster), **settings)


class TestKubeContract(BackendContract):
    @pytest.fixture
    def make_backend(self, cluster: KubeApi) -> Callable[[], KubeBackend]:
        return _factory(cluster, part_bytes=SMALL_PARTS)


def _secrets(cluster: KubeApi) -> dict[str, client.V1Secret]:
    listed = client.CoreV1Api(_api(cluster)).list_namespaced_secret(NAMESPACE)
    return {present(meta(item).name): item for item in listed.items}


def _lease(cluster: KubeApi) -> client.V1LeaseSpec:
    lease = client.CoordinationV1Api(_api(cluster)).read_namespaced_lease("fluxform-lock-test", NAMESPACE)
    return present(lease.spec)


def _renewed(cluster: KubeApi) -> dt.datetime:
    return present(parse_time(_lease(cluster).renew_time))


def test_small_state_is_one_gzip_secret_with_lineage_and_serial(cluster: KubeApi) -> None:
    written = _factory(cluster)().write(small_state())
    secrets = _secrets(cluster)
    assert list(secrets) == ["fluxform-state-test"]
    head = secrets["fluxform-state-test"]
    assert meta(head).annotations == {"fluxform.dev/lineage": written.lineage, "fluxform.dev/serial": "1"}
    assert present(meta(head).labels)["app.kubernetes.io/managed-by"] == "fluxform"
    text = gzip.decompress(base64.b64decode(present(head.data)["state.json.gz"]))
    assert text.startswith(b'{"format":"fluxform-state","formatVersion":1,')


def test_large_state_is_split_and_old_parts_are_removed(cluster: KubeApi) -> None:
    backend = _factory(cluster, part_bytes=SMALL_PARTS)()
    state = backend.write(fleet_state(n_objects=600, revisions=3, per_owner=60, changed_owners=3))
    first_parts = {name for name in _secrets(cluster) if f"-part-{state.serial}-" in name}
    assert len(first_parts) > 2
    index = json.loads(base64.b64decode(present(_secrets(cluster)["fluxform-state-test"].data)["parts.json"]))
    assert index["parts"] == sorted(first_parts, key=lambda n: int(n.rsplit("-", 1)[1]))
    backend.write(next_revision(state, state.owners, operation="apply", by="me"))
    names = set(_secrets(cluster))
    assert not names & first_parts and any(f"-part-{state.serial + 1}-" in name for name in names)


def test_parts_left_by_a_dead_writer_are_cleaned_up(cluster: KubeApi) -> None:
    orphan = {
        "metadata": {
            "name": "fluxform-state-test-part-9-deadbeef-0",
            "labels": {"fluxform.dev/state": "test", "fluxform.dev/role": "part"},
        },
        "data": {"part": base64.b64encode(b"half a write").decode()},
    }
    client.CoreV1Api(_api(cluster)).create_namespaced_secret(NAMESPACE, client.V1Secret.model_validate(orphan))
    _factory(cluster)().write(small_state())
    assert list(_secrets(cluster)) == ["fluxform-state-test"]


def test_a_damaged_part_is_reported_not_parsed(cluster: KubeApi) -> None:
    backend = _factory(cluster, part_bytes=8 * 1024)()
    backend.write(fleet_state(n_objects=300, revisions=1, per_owner=30, changed_owners=1))
    part = next(name for name in _secrets(cluster) if "-part-" in name)
    body = {"metadata": {"name": part}, "data": {"part": base64.b64encode(b"garbage").decode()}}
    client.CoreV1Api(_api(cluster)).replace_namespaced_secret(part, NAMESPACE, client.V1Secret.model_validate(body))
    with pytest.raises(StateError, match="checksum mismatch"):
        backend.read()


def test_a_write_racing_another_writer_gets_the_409_as_state_changed(cluster: KubeApi) -> None:
    backend = _factory(cluster)()
    state = backend.write(small_state())
    core = client.CoreV1Api(_api(cluster))

    class Raced(KubeBackend):
        def _commit(self, head: Any, *args: Any) -> None:
            # Someone (another tool, a stale writer) rewrites the head after we read it.
            head_now = core.read_namespaced_secret(self.head_name, NAMESPACE)
            present(meta(head_now).annotations)["edited-by"] = "someone-else"
            core.replace_namespaced_secret(self.head_name, NAMESPACE, head_now)
            super()._commit(head, *args)

    raced = Raced(_cluster(cluster), namespace=NAMESPACE, name="test", lease_seconds=2.0)
    with pytest.raises(StateError, match="changed since it was read"):
        raced.write(next_revision(state, {}, operation="apply", by="me"))
    assert backend.read() == state
    assert cluster.server.request_count(method="PUT", path="/secrets/fluxform-state-test") >= 2


@pytest.mark.parametrize("method", ["POST", "PUT"], ids=["first-write", "next-write"])
def test_a_head_write_whose_answer_was_lost_is_committed_once(cluster: KubeApi, method: str) -> None:
    backend = _factory(cluster)()
    state = small_state() if method == "POST" else backend.write(small_state())
    wanted = state if method == "POST" else next_revision(state, state.owners, operation="apply", by="me")
    head = "/secrets$" if method == "POST" else "/secrets/fluxform-state-test$"
    cluster.server.inject_fault(head, method=method, lose_reply=True, times=1)
    written = backend.write(wanted)
    assert backend.read() == written and written.serial == wanted.serial + 1
    # the repeat met the first send's own write (AlreadyExists / stale resourceVersion): read back, not refused
    assert [r.status for r in cluster.server.requests if r.method == method and "/secrets" in r.path] == [0, 409]


def test_a_lease_taken_by_a_send_whose_answer_was_lost_is_held(cluster: KubeApi) -> None:
    backend = _factory(cluster)()
    cluster.server.inject_fault("/leases$", method="POST", lose_reply=True, times=1)
    lock_id = backend.lock(new_lock_info("apply"))
    assert _lease(cluster).holder_identity == lock_id
    backend.write(small_state())  # the write checks the Lease still names this lock
    backend.unlock(lock_id)
    assert _lease(cluster).holder_identity is None


def _stale_lease(cluster: KubeApi, seconds: int) -> dt.datetime:
    """A Lease left by a holder that is gone: renewed just now, never again."""
    renewed = dt.datetime.now(dt.UTC)
    info = new_lock_info("apply")
    body = {
        "metadata": {
            "name": "fluxform-lock-test",
            "annotations": {
                LOCK_ANNOTATION: json.dumps(
                    {"id": info.id, "who": "ghost@gone (pid 1)", "when": info.when, "operation": "apply"}
                )
            },
        },
        "spec": {
            "holderIdentity": info.id,
            "leaseDurationSeconds": seconds,
            "acquireTime": micro_time(renewed),
            "renewTime": micro_time(renewed),
        },
    }
    client.CoordinationV1Api(_api(cluster)).create_namespaced_lease(NAMESPACE, client.V1Lease.model_validate(body))
    return renewed


def test_a_stale_lease_is_taken_over_only_after_it_expires(cluster: KubeApi) -> None:
    renewed = _stale_lease(cluster, seconds=1)
    taker = _factory(cluster)()
    with pytest.raises(LockHeld) as err:
        taker.lock(new_lock_info("apply"))
    assert "ghost@gone" in err.value.one_line()
    lock_id = taker.lock(new_lock_info("apply"), timeout=10.0)
    assert dt.datetime.now(dt.UTC) > renewed + dt.timedelta(seconds=1)
    lease = _lease(cluster)
    assert lease.holder_identity == lock_id and lease.lease_transitions == 1
    taker.unlock(lock_id)
    assert _lease(cluster).holder_identity is None


_HOLDER = """
import sys, time
from pathlib import Path
from fluxform.cluster.options import ClusterOptions
from fluxform.state.kube import KubeBackend
from fluxform.state.lock import new_lock_info
backend = KubeBackend.from_options(ClusterOptions(kubeconfig=Path(sys.argv[1]), context="kubeapi"),
                                   namespace=sys.argv[2], name="test", lease_seconds=1)
backend.lock(new_lock_info("apply"))
print("locked", flush=True)
time.sleep(60)
"""


def test_a_live_holder_renews_and_a_killed_one_expires(cluster: KubeApi) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(cluster.kubeconfig), NAMESPACE],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        first_renewal = _renewed(cluster)
        other = _factory(cluster)()
        # Well past one lease duration, the holder still has it: it kept renewing.
        with pytest.raises(LockHeld) as err:
            other.lock(new_lock_info("plan"), timeout=2.5)
        assert f"pid {child.pid}" in err.value.holder.who
        assert _renewed(cluster) > first_renewal
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    last_renewal = _renewed(cluster)
    lock_id = other.lock(new_lock_info("apply"), timeout=10.0)
    assert dt.datetime.now(dt.UTC) > last_renewal + dt.timedelta(seconds=1)
    other.unlock(lock_id)


def test_kubectl_sees_the_lease_holder(cluster: KubeApi) -> None:
    backend = _factory(cluster)()
    lock_id = backend.lock(new_lock_info("apply"))
    kubectl = str(REPO / ".venv" / "bin" / "kubectl")
    out = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-n",
            NAMESPACE,
            "get",
            "lease",
            "fluxform-lock-test",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    lease = json.loads(out)
    assert lease["spec"]["holderIdentity"] == lock_id
    assert json.loads(lease["metadata"]["annotations"][LOCK_ANNOTATION])["operation"] == "apply"
    backend.unlock(lock_id)


@pytest.mark.parametrize(
    ("setup", "message", "hint"),
    [
        (lambda api: api.server.forbid(verb="create", resource="secrets"), "HTTP 403", "needs get/list/create"),
        (lambda api: None, "HTTP 404", "does the namespace exist?"),
    ],
    ids=["forbidden", "no-namespace"],
)
def test_api_refusals_are_state_errors_with_a_hint(kubeapi: KubeApi, setup: Any, message: str, hint: str) -> None:
    if message == "HTTP 403":
        client.CoreV1Api(_api(kubeapi)).create_namespace(_namespace(NAMESPACE))
    setup(kubeapi)
    backend = KubeBackend(_cluster(kubeapi), namespace=NAMESPACE, name="test", lease_seconds=2.0)
    with pytest.raises(StateError) as err:
        if message == "HTTP 403":
            backend.write(small_state())
        else:
            backend.lock(new_lock_info("apply"))
    line = err.value.one_line()
    assert message in line and hint in line


def test_an_unreachable_api_is_a_state_error(cluster: KubeApi) -> None:
    backend = _factory(cluster)()
    cluster.stop()
    with pytest.raises(StateError, match="did not answer"):
        backend.read()


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("prod", "prod"),
        ("kind-Dev", "kind-dev-"),
        ("arn:aws:eks:eu-west-1:1:cluster/prod", "arn-aws-eks-eu-west-1-1-c"),
    ],
    ids=["plain", "upper", "eks-arn"],
)
def test_default_state_name_is_a_short_dns_label(context: str, expected: str) -> None:
    name = default_state_name(context)
    assert name.startswith(expected) and len(name) <= 40
    assert all((c.isalnum() and c.islower()) or c.isdigit() or c == "-" for c in name)


def test_cli_commands_use_the_kubernetes_backend(cluster: KubeApi) -> None:
    _factory(cluster, name=default_state_name(CONTEXT))().write(small_state())
    flags = [
        "--backend",
        "kubernetes",
        "--backend-namespace",
        NAMESPACE,
        "--kubeconfig",
        str(cluster.kubeconfig),
        "--context",
        CONTEXT,
    ]
    listed = invoke(state_group, "list", *flags)
    assert listed.exit_code == 0, listed.output
    assert "apps_web_apps_Deployment" in listed.output
    removed = invoke(state_group, "rm", "apps_web_apps_Deployment", *flags)
    assert "state serial 2" in removed.output, removed.output

    holder = _factory(cluster, name=default_state_name(CONTEXT))()
    lock_id = holder.lock(new_lock_info("apply"))
    blocked = invoke(state_group, "rm", "apps_web-creds__Secret", *flags)
    assert isinstance(blocked.exception, LockHeld)
    done = invoke(force_unlock, lock_id, "--yes", *flags)
    assert done.exit_code == 0, done.output
    assert invoke(state_group, "rm", "apps_web-creds__Secret", *flags).exit_code == 0
