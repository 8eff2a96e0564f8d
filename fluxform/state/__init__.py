"""State: what fluxform applied to a cluster, where it is kept, and who may write it.

    model.py    StateFile / OwnerState / StateObject / Revision, new_state, next_revision
    codec.py    the versioned JSON form (state_to_json / state_from_json in model.py)
    secrets.py  Secret values: masked in manifests, age-sealed beside them, or omitted
    lock.py     LockInfo, LockHeld, LockLost
    identity.py whose state: its cluster and fleet path against a plan's
    backend.py  the StateBackend Protocol, the shared write rules, open_backend, locked
    local.py    LocalBackend: .fluxform/<context>.state.json, atomic writes, flock
    kube.py     KubeBackend: Secrets + a Lease (lease.py), through the one cluster client
                (fluxform.cluster; kubecalls.py reads its answers); imported lazily

    backend = open_backend(config.state, root=config.root, cluster=ClusterOptions(context="prod"))
    with locked(backend, "apply", timeout=config.state.lock_timeout) as lock:
        state = backend.read() or new_state("prod")
        backend.write(next_revision(state, owners, operation="apply", by=lock.who))

The Kubernetes backend is not imported here: the client takes ~0.3 s to import and only
`open_backend` with `backend: kubernetes` needs it.
"""

from fluxform.state.backend import StateBackend, locked, open_backend
from fluxform.state.local import LocalBackend, default_state_path
from fluxform.state.lock import LockHeld, LockInfo, LockLost, new_lock_info
from fluxform.state.model import (
    DEFAULT_HISTORY_LIMIT,
    FORMAT_VERSION,
    OwnerState,
    Revision,
    StateFile,
    StateObject,
    canonical_digest,
    new_state,
    next_revision,
    state_from_json,
    state_to_json,
    without_ids,
)
from fluxform.state.secrets import restore_secret_manifest, secret_state_object

__all__ = [
    "DEFAULT_HISTORY_LIMIT",
    "FORMAT_VERSION",
    "LocalBackend",
    "LockHeld",
    "LockInfo",
    "LockLost",
    "OwnerState",
    "Revision",
    "StateBackend",
    "StateFile",
    "StateObject",
    "canonical_digest",
    "default_state_path",
    "locked",
    "new_lock_info",
    "new_state",
    "next_revision",
    "open_backend",
    "restore_secret_manifest",
    "secret_state_object",
    "state_from_json",
    "state_to_json",
    "without_ids",
]
