"""Flags shared by the commands, parsed into the typed values the library takes.

Each decorator adds a family of click options and hands the command one typed value instead
of loose keyword arguments: `fleet: FleetOptions` (how to build the fleet), `target:
TargetFlags` (which cluster and state), `output: str` (one output switch, `-o/--output`, with
the older `--format` kept as a hidden alias).

    @click.command()
    @fleet_options
    @output_option("text", "json")
    def command(fleet: FleetOptions, output: str) -> None: ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from fluxform.limits import DEFAULT_BUILD_TIMEOUT
from fluxform.planner.kustomization.cache import default_cache_dir
from fluxform.planner.options import ArtifactAccess, FleetOptions, Policy
from fluxform.target import TargetFlags, UsageProblem

__all__ = [
    "apply_run_options",
    "cluster_options",
    "fleet_options",
    "fleet_options_with_artifacts",
    "output_option",
    "partial_option",
    "rollback_options",
    "state_options",
]

Command = Callable[..., Any]

_FLEET_FLAGS = (
    "source",
    "repo_root",
    "strict_substitute",
    "jobs",
    "no_cache",
    "cache_dir",
    "decryption_key",
    "offline",
    "chart_cache",
    "missing_charts",
    "missing_sources",
    "missing_objects",
    "missing_keys",
    "keys_dir",
    "build_timeout",
    "root_ks",
    "verify_key",
    "plain_http",
    "ca_file",
    "max_artifact_size",
)
_TARGET_FLAGS = (
    "config_file",
    "kubeconfig",
    "context",
    "in_cluster",
    "live",
    "state_path",
    "backend",
    "backend_namespace",
)


def _apply(func: Command, options: Sequence[Callable[[Command], Command]]) -> Command:
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True)
class _Sources:
    directories: dict[str, Path]  # NAME=DIR
    artifacts: dict[str, str]  # NAME=REF, REF an OCI artifact
    fleet: str  # REF: the fleet itself from an OCI artifact ("" = PATH on disk)


def _is_artifact(text: str) -> bool:
    """An oci:// reference, a layout tar file or a layout directory (it holds `oci-layout`)."""
    path = Path(text)
    return text.startswith("oci://") or path.is_file() or (path / "oci-layout").is_file()


def _parse_sources(values: Sequence[str]) -> _Sources:
    directories: dict[str, Path] = {}
    artifacts: dict[str, str] = {}
    fleet = ""
    for value in values:
        name, sep, where = value.partition("=")
        if not sep and not _is_artifact(value):
            raise click.BadParameter(
                f"{value!r}: expected NAME=DIR or NAME=REF (NAME as name, namespace/name or Kind/ns/name), "
                "or REF alone for the fleet itself (oci://..., or an OCI layout tar or directory that exists)"
            )
        if value.startswith("oci://") or not sep:
            if fleet:
                raise click.BadParameter(f"{value!r}: the fleet already comes from {fleet!r} (one --source REF)")
            fleet = value
            continue
        if not name or not where:
            raise click.BadParameter(
                f"{value!r}: expected NAME=DIR or NAME=REF (NAME as name, namespace/name or Kind/ns/name), "
                "or REF alone for the fleet itself"
            )
        if _is_artifact(where):
            artifacts[name] = where
        else:
            directories[name] = Path(where)
    return _Sources(directories, artifacts, fleet)


def _artifact_access(values: dict[str, Any]) -> ArtifactAccess:
    from fluxform.commands.sizes import parse_size

    return ArtifactAccess(
        plain_http=bool(values["plain_http"]),
        ca_file=Path(values["ca_file"]) if values["ca_file"] else None,
        verify_key=Path(values["verify_key"]) if values["verify_key"] else None,
        max_size=parse_size(str(values["max_artifact_size"])),
    )


def _check_sources(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """--source values checked while click parses them, so its error names the flag."""
    _parse_sources(values)
    return values


def _policy_option(flag: str, help_text: str) -> Callable[[Command], Command]:
    """An `error|warn` policy for an input fluxform cannot get here."""
    choices = click.Choice([p.value for p in Policy])
    return click.option(flag, type=choices, default=Policy.ERROR.value, show_default=True, help=help_text)


def _fleet_from(values: dict[str, Any]) -> FleetOptions:
    sources = _parse_sources(values["source"] or ())
    return FleetOptions(
        sources=sources.directories,
        artifact=sources.fleet,
        artifact_sources=sources.artifacts,
        artifact_access=_artifact_access(values),
        repo_root=Path(values["repo_root"]) if values["repo_root"] else None,
        strict_substitute=values["strict_substitute"],
        jobs=values["jobs"] or 0,
        cache_dir=Path(values["cache_dir"]),
        use_cache=not values["no_cache"],
        decryption_keys=tuple(Path(p) for p in values["decryption_key"] or ()),
        keys_dir=Path(values["keys_dir"]) if values["keys_dir"] else None,
        offline=values["offline"],
        chart_cache=Path(values["chart_cache"]) if values["chart_cache"] else None,
        missing_charts=Policy(values["missing_charts"]),
        missing_sources=Policy(values["missing_sources"]),
        missing_objects=Policy(values["missing_objects"]),
        missing_keys=Policy(values["missing_keys"]),
        build_timeout=values["build_timeout"],
        root_kustomization=Path(values["root_ks"]) if values["root_ks"] else None,
    )


def fleet_options_with_artifacts(func: Command) -> Command:
    """`fleet_options` of the commands that render from OCI artifacts (plan, apply)."""
    return _fleet_options(func, artifacts=True)


def fleet_options(func: Command) -> Command:
    """Flags of every command that builds a fleet; the command receives `fleet: FleetOptions`.
    `--source` naming an OCI artifact is refused here (only plan and apply open artifacts)."""
    return _fleet_options(func, artifacts=False)


def _fleet_options(func: Command, *, artifacts: bool) -> Command:
    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _FLEET_FLAGS}
        fleet = _fleet_from(values)
        if not artifacts and (fleet.artifact or fleet.artifact_sources):
            named = fleet.artifact or next(iter(fleet.artifact_sources.values()))
            raise click.BadParameter(
                f"{named!r} is an OCI artifact: plan and apply read those; here, unpack it first "
                "(fluxform artifact pull REF DIR) and pass the directory",
                param_hint="'--source'",
            )
        return func(*args, fleet=fleet, **kwargs)

    return _apply(
        command,
        [
            click.option(
                "--source",
                multiple=True,
                metavar="NAME=DIR|NAME=REF|REF",
                callback=_check_sources,
                help="Map a Flux source to a local directory or an OCI artifact (REF: oci://HOST/REPO:TAG, "
                "oci://HOST/REPO@sha256:..., an OCI layout tar or directory); REF alone: the fleet itself comes "
                "from that artifact and PATH is a directory inside it.",
            ),
            click.option(
                "--repo-root", type=click.Path(file_okay=False), help="Root of the self source (default: found)."
            ),
            click.option(
                "--strict-substitute/--no-strict-substitute",
                default=True,
                show_default=True,
                help="Fail on undefined ${vars} (Flux >= 2.9 default).",
            ),
            click.option("--jobs", type=click.IntRange(min=0), default=0, help="Parallel builds (default: CPU count)."),
            click.option(
                "--build-timeout",
                type=click.FloatRange(min=0, min_open=True),
                default=DEFAULT_BUILD_TIMEOUT,
                show_default=True,
                metavar="SECONDS",
                help="Time one kustomize build may take before it is stopped.",
            ),
            click.option("--no-cache", is_flag=True, help="Do not use the build and Helm render caches."),
            click.option(
                "--cache-dir",
                default=lambda: str(default_cache_dir()),
                show_default="~/.cache/fluxform",
                help="Cache dir.",
            ),
            click.option(
                "--decryption-key",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False),
                help="age identity file (*.agekey) or armored PGP private key (*.asc); repeatable.",
            ),
            click.option("--offline", is_flag=True, help="Charts only from the chart cache (air-gapped planning)."),
            click.option("--chart-cache", type=click.Path(file_okay=False), help="Chart cache directory."),
            _policy_option(
                "--missing-charts",
                "A chart that cannot be fetched: fail, or plan the rest and list its HelmRelease as not planned.",
            ),
            _policy_option(
                "--missing-sources",
                "A Flux source not mapped with --source: fail, or plan the rest and list its Kustomizations as "
                "not planned.",
            ),
            _policy_option(
                "--missing-objects",
                "A substituteFrom/valuesFrom object nothing in the fleet produces (made in the cluster, e.g. by "
                "external-secrets): fail, or plan the rest and list its Kustomization or HelmRelease as not planned.",
            ),
            _policy_option(
                "--missing-keys",
                "A Kustomization with SOPS secrets and no key given (CI without secrets): fail, or plan the rest "
                "and list it as not planned.",
            ),
            click.option(
                "--root-ks",
                type=click.Path(exists=True, dir_okay=False),
                help="File of the Flux Kustomization whose spec.path is PATH, when it lies outside PATH "
                "(default: found in PATH's own build, else a synthetic root).",
            ),
            click.option(
                "--keys-dir",
                type=click.Path(exists=True, file_okay=False),
                help="Directory of Secret manifests named by spec.decryption.secretRef (Flux's sops-age).",
            ),
            click.option(
                "--verify-key",
                type=click.Path(exists=True, dir_okay=False),
                help="cosign public key: OCI artifacts are used only when a signature verifies with it (offline).",
            ),
            click.option("--plain-http", is_flag=True, help="Talk HTTP, not HTTPS, to OCI registries (internal ones)."),
            click.option(
                "--ca-file",
                type=click.Path(exists=True, dir_okay=False),
                help="PEM CA certificate to trust for OCI registries (self-signed / private CA).",
            ),
            click.option(
                "--max-artifact-size",
                default="512MiB",
                show_default=True,
                help="Refuse OCI artifacts (compressed layer or unpacked files) larger than this.",
            ),
        ],
    )


def _target_decorator(func: Command, options: Sequence[Callable[[Command], Command]]) -> Command:
    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _TARGET_FLAGS if name in kwargs}
        flags = TargetFlags(
            config_file=given.get("config_file"),
            kubeconfig=given.get("kubeconfig"),
            context=given.get("context") or "",
            in_cluster=bool(given.get("in_cluster")),
            live=bool(given.get("live")),
            state_path=given.get("state_path"),
            backend=given.get("backend") or "",
            backend_namespace=given.get("backend_namespace") or "",
        )
        try:
            return func(*args, target=flags, **kwargs)
        except UsageProblem as exc:  # flags that contradict each other: a usage error, as click's own
            raise click.UsageError(exc.one_line()) from exc

    return _apply(command, options)


def _config_option() -> Callable[[Command], Command]:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="fluxform.yaml to use (default: found upwards).",
    )


def _kubeconfig_option(help_text: str) -> Callable[[Command], Command]:
    return click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), help=help_text)


def cluster_options(func: Command) -> Command:
    """Flags of commands that may read a cluster and a state (plan); `target: TargetFlags`."""
    return _target_decorator(
        func,
        [
            click.option(
                "--state",
                "state_path",
                type=click.Path(path_type=Path),
                help="State file (default: fluxform.yaml's, else empty).",
            ),
            _config_option(),
            _kubeconfig_option("Plan against this cluster."),
            click.option("--context", help="kubeconfig context (implies a live plan)."),
            click.option("--in-cluster", is_flag=True, help="Use the pod's service account (implies a live plan)."),
            click.option("--live", is_flag=True, help="Plan against the cluster of the default kubeconfig."),
        ],
    )


def state_options(func: Command) -> Command:
    """Flags that choose where state lives (the `state` commands); `target: TargetFlags`."""
    from fluxform.config import BACKENDS

    return _target_decorator(
        func,
        [
            _config_option(),
            click.option(
                "--state",
                "state_path",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Local state file (default: .fluxform/<context>.state.json).",
            ),
            click.option("--backend", type=click.Choice(BACKENDS), help="Where state lives (default: local)."),
            click.option("--backend-namespace", help="Namespace of the kubernetes backend's Secrets and Lease."),
            _kubeconfig_option("Kubeconfig file."),
            click.option("--context", help="Kubeconfig context (default: the current context)."),
            click.option("--in-cluster", is_flag=True, help="Use the pod's service account (kubernetes backend)."),
        ],
    )


def output_option(*choices: str, default: str = "text") -> Callable[[Command], Command]:
    """`-o/--output` with the given choices; the command receives `output: str`.

    `--format` is the same switch under its older name (hidden, kept for scripts)."""

    def decorate(func: Command) -> Command:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            alias = kwargs.pop("format_alias")
            if alias is not None:
                kwargs["output"] = alias
            return func(*args, **kwargs)

        kind = click.Choice(list(choices))
        return _apply(
            command,
            [
                click.option("-o", "--output", type=kind, default=default, show_default=True, help="Output format."),
                click.option("--format", "format_alias", type=kind, default=None, hidden=True),
            ],
        )

    return decorate


def partial_option(func: Command) -> Command:
    """`--partial` (plan, diff); the command receives `partial: bool`."""
    return click.option(
        "--partial",
        is_flag=True,
        help="Plan what renders when some owners cannot be planned (they are listed, with why); without it "
        "that is an error. With --detailed-exitcode the exit is then 2, never 0.",
    )(func)


def apply_run_options(func: Command) -> Command:
    """--auto-approve, --parallelism and --timeout (apply and rollback: how the executor runs)."""
    return _apply(
        func,
        [
            click.option(
                "--auto-approve", is_flag=True, help="Apply without asking (needed when stdin is not a terminal)."
            ),
            click.option(
                "--parallelism",
                type=click.IntRange(min=1),
                default=4,
                show_default=True,
                help="Owners applied at once.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0, min_open=True),
                metavar="SECONDS",
                help="Health check timeout for every owner (default: each owner's spec.timeout, as Flux).",
            ),
        ],
    )


def rollback_options(func: Command) -> Command:
    """--no-rollback and --rollback-timeout (apply and rollback: what happens after a failure)."""
    return _apply(
        func,
        [
            click.option(
                "--no-rollback",
                is_flag=True,
                help="After a failure, leave what was applied in place (and list it) instead of putting it back.",
            ),
            click.option(
                "--rollback-timeout",
                type=click.FloatRange(min=0, min_open=True),
                default=300.0,
                show_default=True,
                metavar="SECONDS",
                help="Time the automatic rollback of a failed apply may take (Helm rollbacks included).",
            ),
        ],
    )
