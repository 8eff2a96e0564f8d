"""`fluxform completion bash|zsh|fish`, and what completes Kustomization and HelmRelease
names for `build` (NAMESPACE/NAME, as `get` prints them).

The script is click's own (it calls fluxform back with `_FLUXFORM_COMPLETE` set). Names come
from a cheap scan of the YAML files below the fleet (fluxform.yaml's, else the git work tree
or the current directory): no build, no decryption, bounded in files and bytes, so a TAB
answers at once; a Kustomization that only a build produces is not offered.

    eval "$(fluxform completion bash)"
    fluxform build ks flux-system/<TAB>
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from click.shell_completion import CompletionItem, get_completion_class

from fluxform import yamlio

__all__ = ["complete_owner", "completion", "scan_owners"]

SHELLS = ("bash", "zsh", "fish")
_GROUPS = {"Kustomization": b"kustomize.toolkit.fluxcd.io", "HelmRelease": b"helm.toolkit.fluxcd.io"}
_MAX_FILES = 20_000  # YAML files read at most
_MAX_BYTES = 1 << 20  # a larger file is not a Flux object definition
_SKIPPED_DIRS = {"node_modules", "vendor", "__pycache__"}


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    bash: `eval "$(fluxform completion bash)"` in ~/.bashrc; zsh: the same in ~/.zshrc;
    fish: `fluxform completion fish > ~/.config/fish/completions/fluxform.fish`."""
    from fluxform.cli import cli

    script = get_completion_class(shell)
    assert script is not None  # every shell listed is one click ships
    click.echo(script(cli, {}, "fluxform", "_FLUXFORM_COMPLETE").source())


def _yaml_files(root: Path) -> Iterator[Path]:
    seen = 0
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_DIRS)
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                seen += 1
                if seen > _MAX_FILES:
                    return
                yield Path(directory) / name


def scan_owners(root: Path, kind: str) -> list[str]:
    """NAMESPACE/NAME (or NAME, when the file sets no namespace) of every `kind`
    ("Kustomization" or "HelmRelease") written in a YAML file below `root`, sorted."""
    group = _GROUPS[kind]
    found: set[str] = set()
    for path in _yaml_files(root):
        with contextlib.suppress(OSError, yamlio.YamlError, ValueError):
            if path.stat().st_size > _MAX_BYTES:
                continue
            data = path.read_bytes()
            if group not in data or kind.encode() not in data:
                continue
            for doc in yamlio.load_all(data, unknown_tags="plain"):
                if not isinstance(doc, dict) or doc.get("kind") != kind:
                    continue
                if not str(doc.get("apiVersion", "")).startswith(group.decode()):
                    continue
                meta = doc.get("metadata")
                name, namespace = (meta.get("name"), meta.get("namespace")) if isinstance(meta, dict) else (None, None)
                if isinstance(name, str) and name:
                    found.add(f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name)
    return sorted(found)


def _scan_root(ctx: click.Context) -> Path:
    """Where to look: the PATH already typed, fluxform.yaml's directory, the git work tree
    holding the current directory, or the current directory."""
    typed = ctx.params.get("path")
    if isinstance(typed, Path) and typed.exists():
        return typed
    here = Path.cwd()
    for directory in (here, *here.parents):
        if (
            any((directory / name).is_file() for name in ("fluxform.yaml", "fluxform.yml", ".git"))
            or (directory / ".git").is_dir()
        ):
            return directory
    return here


def complete_owner(kind: str) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    """A click `shell_complete` for the NAME of `build ks|hr`."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        names = scan_owners(_scan_root(ctx), kind)
        return [
            CompletionItem(n) for n in names if n.startswith(incomplete) or n.partition("/")[2].startswith(incomplete)
        ]

    return complete
