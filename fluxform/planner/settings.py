"""What a plan was made with (`PlanSettings`: every option that changes the render) and against
(`LiveTarget`: the cluster a live plan read).

Both are recorded in the plan file so that apply can render the recorded source revision
again exactly as the plan did (to get the real Secret values the file only holds as
fingerprints, and to prove the render equals the plan) and talk to the same cluster with the
same field managers. Neither ever holds key material: keys are given to apply again.

    settings = PlanSettings(strict_substitute=False, sources=(SourceMapping("platform", "../platform"),))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fluxform.planner.live.policy import FieldManagers
from fluxform.planner.options import Policy

__all__ = ["LiveTarget", "PlanSettings", "SourceMapping"]


@dataclass(frozen=True)
class SourceMapping:
    """A `--source NAME=DIR` mapping (or, in `artifact_sources`, NAME=pinned artifact)."""

    name: str  # name, namespace/name or Kind/namespace/name, as given
    path: str  # the directory (or artifact reference), as given (relative to the directory `plan` ran in)


@dataclass(frozen=True)
class PlanSettings:
    """The options a render depends on (the part of `FleetOptions` that changes what is
    rendered, not how fast or with which keys); paths as given on the command line."""

    repo_root: str = ""  # --repo-root; "" = found from the self-managing Kustomization
    root_kustomization: str = ""  # --root-ks (or the path given was that file); "" = none
    sources: tuple[SourceMapping, ...] = ()  # --source, sorted by name
    self_source: str = ""  # the self-managing Kustomization's spec.sourceRef, as found
    strict_substitute: bool = True  # --strict-substitute (Flux >= 2.9 default)
    missing_sources: Policy = Policy.ERROR  # --missing-sources
    missing_objects: Policy = Policy.ERROR  # --missing-objects
    missing_keys: Policy = Policy.ERROR  # --missing-keys
    missing_charts: Policy = Policy.ERROR  # --missing-charts
    offline: bool = False  # --offline: charts from the chart cache only
    chart_cache: str = ""  # --chart-cache; "" = the default cache
    field_manager: str = ""  # --field-manager; "" = chosen from the cluster (LiveTarget.field_managers)
    #: the cluster directory, relative to the repository root, as the render found it: apply
    #: records it in the state it writes (fluxform.state.identity), and refuses a state of another
    fleet_path: str = ""
    #: `--source REF`: the OCI artifact the fleet was planned from, pinned to its manifest
    #: digest (oci://HOST/REPO:TAG@sha256:…, FILE.tar@sha256:…); "" = the fleet directory.
    #: Apply opens that digest again and refuses the plan when the tag points elsewhere.
    artifact: str = ""
    #: OCI artifacts of Flux sources (`--source NAME=REF`, or an OCIRepository's spec.url as
    #: `OCIRepository/<ns>/<name>`), pinned the same way, sorted by name
    artifact_sources: tuple[SourceMapping, ...] = ()

    def with_render_facts(self, render: Mapping[str, Any]) -> PlanSettings:
        """These settings with what the render itself recorded (`DesiredState.settings`),
        which wins: it is what the render really did."""
        return replace(
            self,
            strict_substitute=bool(render.get("strict_substitute", self.strict_substitute)),
            self_source=str(render.get("self_source") or self.self_source),
            fleet_path=str(render.get("fleet_path") or self.fleet_path),
        )


@dataclass(frozen=True)
class LiveTarget:
    """The cluster a live plan read, and how apply will write to it."""

    context: str  # kubeconfig context; "" = in-cluster
    server: str  # API server URL
    field_managers: FieldManagers  # per owner kind, and why they were chosen
    comparison: str  # how changes were found: server-side dry-run, or where it fell back to client-side
