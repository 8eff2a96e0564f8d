"""Writing small file trees for tests."""

from __future__ import annotations

from pathlib import Path


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create each `relative path: text` under `root` (parents included); returns `root`."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def flux_kustomization(name: str, path: str, extra: str = "", *, source: str = "flux-system") -> str:
    """A Flux Kustomization in flux-system reading `path` of a GitRepository; `extra`:
    more `spec` lines, indented by two spaces."""
    return f"""\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  path: {path}
  prune: true
  sourceRef:
    kind: GitRepository
    name: {source}
{extra}"""


#: The GitRepository `flux bootstrap` writes beside the flux-system Kustomization.
FLUX_SYSTEM_SOURCE = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: https://example.com/fleet.git
"""
