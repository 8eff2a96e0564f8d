"""What a kept changed-only index is keyed by, besides the base tree and the cluster path.

An index records what each owner of one render read, looked up and produced, and whether
it rendered at all. It may stand in for a render only under the very same conditions: a
render with other keys (or none), another chart cache, offline instead of online, other
source mappings, another substitution mode, schema check, build timeout or tool version can render
other owners, or fail others. Anything a flag can change is in the key, so an index kept
under one set of flags is never read under another (it is rendered again instead). The
policies for owners left out (`--missing-* warn`, `--partial`) are applied after the
render today, but they are in the key too: a render that one day stops early under a
stricter policy must not reuse an index made under a looser one.

    settings = render_settings(request.fleet, secrets.keys_identity())
    key = IndexStore(directory).key(tree_id, "clusters/prod", settings)
"""

from __future__ import annotations

from typing import Any

from fluxform import __version__
from fluxform.kustomize.engine import kustomize_engine
from fluxform.planner.releases import ReleaseHook
from fluxform.planner.workflow import FleetRequest

__all__ = ["render_settings"]


def render_settings(fleet: FleetRequest, keys_identity: str) -> dict[str, Any]:
    """Every setting of `fleet` that can change a render (plain values; no key material:
    `keys_identity` is a one-way name of the keys, see FleetSecrets.keys_identity)."""
    opts = fleet.discover
    helm = opts.helm
    if helm is None:
        helm_settings: Any = None
    elif isinstance(helm, ReleaseHook):
        helm_settings = helm.options.identity()
    else:  # a hook fluxform does not know (tests wrap the real one): named by its type
        helm_settings = {"hook": f"{type(helm).__module__}.{type(helm).__qualname__}"}
    return {
        "fluxform": __version__,
        "kustomize": kustomize_engine().version,
        "strict": opts.strict_substitute,
        "repo_root": str(opts.repo_root or ""),
        "root_kustomization": str(opts.root_kustomization or ""),
        "sources": sorted((k, str(v)) for k, v in opts.sources.items()),
        "build_timeout": opts.build_timeout,
        "helm": helm_settings,
        "keys": keys_identity,
        "accept_all": fleet.partial.accept_all,
        "accepted": sorted(str(c) for c in fleet.partial.accepted),
        # the schema check decides owners' statuses and warnings
        "validate": (fleet.validation.kube_version or "newest") if fleet.validation.enabled else "",
    }
