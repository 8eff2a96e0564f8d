"""Which fleet, which cluster and which state a command works on: flags over fluxform.yaml.

Every command resolves its target here, so `plan`, `apply` and the `state` commands agree on
the cluster and on the state they read. No cluster is contacted unless a flag asks for one
(`--kubeconfig`, `--context`, `--in-cluster`, `--live`): a `$KUBECONFIG` alone never makes a
plan live.

    target = resolve_target(TargetFlags(context="prod"), path=None, live=True)
    target.cluster          # ClusterOptions for the live plan (None: offline)
    target.state            # the state backend (None: no state yet)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fluxform.config import FluxformConfig, StateConfig, current_context, load_config
from fluxform.errors import FluxformError, StateError

if TYPE_CHECKING:  # the Kubernetes client is imported only when a cluster is used
    from fluxform.cluster.client import ClusterOptions
    from fluxform.state.backend import StateBackend

__all__ = ["Target", "TargetFlags", "UsageProblem", "resolve_target"]


class UsageProblem(FluxformError):
    """Flags that contradict each other or are missing; the CLI shows them as usage errors."""


@dataclass(frozen=True)
class TargetFlags:
    """The command-line flags that choose the target (empty values: not given)."""

    config_file: Path | None = None  # --config
    kubeconfig: Path | None = None  # --kubeconfig
    context: str = ""  # --context
    in_cluster: bool = False  # --in-cluster
    live: bool = False  # --live: the cluster of the default kubeconfig
    state_path: Path | None = None  # --state: a local state file
    backend: str = ""  # --backend local|kubernetes
    backend_namespace: str = ""  # --backend-namespace

    @property
    def wants_cluster(self) -> bool:
        return bool(self.kubeconfig or self.context or self.in_cluster or self.live)


@dataclass(frozen=True)
class Target:
    config: FluxformConfig
    fleet_path: Path | None  # the cluster path to plan; None for commands without one
    cluster: ClusterOptions | None  # None: offline
    state: StateBackend | None  # None: no state (planned against an empty one)


def resolve_target(
    flags: TargetFlags,
    *,
    path: Path | None = None,
    needs_path: bool = False,
    live: bool = False,
    default_state: bool = False,
    state_optional: bool = False,
) -> Target:
    """Resolve flags against fluxform.yaml (found upwards from PATH, else the working dir).

    `live`: the command may read the cluster (a plan does when a cluster flag is given).
    `default_state`: without --state or a config file, use the local state file of the
    kubeconfig's current context, as every command that reads state does (plan and the
    `state` commands must read the same file); else no state. `state_optional`: no
    context to find that file by means no state (a plan), not an error (the `state`
    commands)."""
    config = load_config(flags.config_file, path or Path.cwd())
    fleet_path = _fleet_path(path, config) if needs_path else path
    kubeconfig = flags.kubeconfig or config.kubeconfig
    context = flags.context or config.context
    cluster = _cluster(kubeconfig, context, flags.in_cluster) if live and flags.wants_cluster else None
    settings = _state_settings(flags, config.state)
    configured = flags.state_path is not None or flags.backend or config.source is not None
    state = None
    if configured or default_state:
        state, context = _open_state(
            settings, config, kubeconfig, context, flags.in_cluster, optional=state_optional and not configured
        )
    return Target(replace(config, state=settings, context=context), fleet_path, cluster, state)


def _fleet_path(path: Path | None, config: FluxformConfig) -> Path:
    if path is not None:
        return path
    if config.cluster_path:
        return config.root / config.cluster_path
    raise UsageProblem("give the cluster PATH, or set `cluster:` in fluxform.yaml")


def _cluster(kubeconfig: Path | None, context: str, in_cluster: bool) -> ClusterOptions:
    from fluxform.cluster.options import ClusterOptions

    return ClusterOptions(kubeconfig=kubeconfig, context=context, in_cluster=in_cluster)


def _state_settings(flags: TargetFlags, settings: StateConfig) -> StateConfig:
    if flags.state_path is not None:
        if flags.backend == "kubernetes":
            raise UsageProblem("--state is a local state file; it cannot go with --backend kubernetes")
        settings = replace(settings, backend="local", path=flags.state_path.absolute())
    if flags.backend:
        settings = replace(settings, backend=flags.backend)
    if flags.backend_namespace:
        settings = replace(settings, namespace=flags.backend_namespace)
    return settings


def _open_state(
    settings: StateConfig,
    config: FluxformConfig,
    kubeconfig: Path | None,
    context: str,
    in_cluster: bool,
    *,
    optional: bool,
) -> tuple[StateBackend | None, str]:
    """The backend, reached with the same cluster options a live plan uses, and the context it
    belongs to ("" when not known)."""
    from fluxform.cluster.options import IN_CLUSTER_CONTEXT, ClusterOptions
    from fluxform.state.backend import open_backend

    if in_cluster and not context:
        context = IN_CLUSTER_CONTEXT
    needs_context = not (settings.backend == "local" and settings.path is not None)
    if needs_context and not context:
        context = current_context(kubeconfig)
        if not context:
            if optional:
                return None, ""
            raise StateError(
                "cannot tell which cluster's state to use",
                hint="pass --context (or --state FILE), or set context in fluxform.yaml",
            )
    cluster = ClusterOptions(kubeconfig=kubeconfig, context="" if in_cluster else context, in_cluster=in_cluster)
    return open_backend(settings, root=config.root, cluster=cluster, context=context), context
