"""A Kubernetes API server emulator for fluxform's tests (test support, never product).

Real HTTP on 127.0.0.1: discovery, CRUD, server-side apply with managedFields and
conflicts, dry runs, defaulting, immutable-field errors, simulated workload health,
watches, and Python controls for faults, RBAC denials and status.

    from tests.kubeapi import start_kubeapi
    api = start_kubeapi(tmp_path / "kubeconfig")
    ...  # point kubectl / the kubernetes client at api.kubeconfig_path
    api.stop()

In pytest use the `kubeapi` fixture (tests/kubeapi/fixtures.py); from a shell run
`python -m tests.kubeapi --port 0 --kubeconfig FILE`.
"""

from .controls import RequestRecord
from .emulator import Emulator
from .errors import ApiError
from .health import HEALTH_ANNOTATION
from .kubeconfig import CONTEXT, write_kubeconfig
from .launch import KubeApi, start_kubeapi
from .refs import ObjectRef
from .server import KubeApiServer

__all__ = [
    "CONTEXT",
    "HEALTH_ANNOTATION",
    "ApiError",
    "Emulator",
    "KubeApi",
    "KubeApiServer",
    "ObjectRef",
    "RequestRecord",
    "start_kubeapi",
    "write_kubeconfig",
]
