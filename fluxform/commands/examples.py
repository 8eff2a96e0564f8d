"""One example per command, shown at the end of its `--help` (kubectl and Terraform show one).

`install(cli)` puts each command's example in its epilog unless the command has its own; a
command added later needs a line here (tests/unit/commands/test_help.py says which).

    fluxform plan --help   # ... Example: fluxform plan clusters/staging --keys-dir keys
"""

from __future__ import annotations

import click

__all__ = ["EXAMPLES", "install"]

F = "clusters/staging"
EXAMPLES: dict[str, str] = {
    "": f"fluxform plan {F} --keys-dir keys",
    "version": "fluxform version",
    "plan": f"fluxform plan {F} --keys-dir keys --out plan.json --detailed-exitcode",
    "show": "fluxform show plan.json -o markdown",
    "apply": "fluxform apply plan.json --keys-dir keys",
    "rollback": f'fluxform rollback {F} --to 12 --reason "bad release" --keys-dir keys',
    "get": f"fluxform get ks {F} -o wide",
    "get ks": f"fluxform get ks {F} -o wide",
    "get hr": f"fluxform get hr {F} -o json",
    "get sources": f"fluxform get sources {F}",
    "build": f"fluxform build ks flux-system/apps {F} --keys-dir keys",
    "build ks": f"fluxform build ks flux-system/apps {F} --keys-dir keys",
    "build hr": f"fluxform build hr podinfo/podinfo {F}",
    "charts": "fluxform charts pull clusters/production",
    "charts pull": "fluxform charts pull clusters/production --chart-cache .cache/charts",
    "diff": "fluxform diff clusters --base origin/main -o markdown --detailed-exitcode",
    "graph": f"fluxform graph {F} --keys-dir keys -o dot | dot -Tsvg > owners.svg",
    "state": "fluxform state list --state state.json",
    "state list": "fluxform state list --owner Kustomization/flux-system/apps -o wide",
    "state show": "fluxform state show Deployment/podinfo/podinfo -o yaml",
    "state rm": "fluxform state rm podinfo_podinfo_apps_Deployment",
    "state history": "fluxform state history -o json",
    "state pull": "fluxform state pull --out state-backup.json",
    "state push": "fluxform state push state-backup.json",
    "force-unlock": "fluxform force-unlock 3f2a9c1e",
    "completion": "fluxform completion bash > ~/.local/share/bash-completion/completions/fluxform",
    "artifact": "fluxform artifact push . oci://registry.example.com/fleet:v1",
    "artifact list-charts": "fluxform artifact list-charts clusters/production",
    "artifact push": "fluxform artifact push . oci://registry.example.com/fleet:v1 --sign-key cosign.key",
    "artifact pull": "fluxform artifact pull oci://registry.example.com/fleet:v1 fleet/ --verify-key cosign.pub",
    "artifact inspect": "fluxform artifact inspect oci://registry.example.com/fleet:v1 -o json",
    "artifact export": "fluxform artifact export oci://registry.example.com/fleet:v1 fleet.tar",
    "artifact import": "fluxform artifact import fleet.tar oci://registry.internal:5000/fleet:v1 --plain-http",
}


def _epilog(example: str) -> str:
    return f"Example:\n\n\b\n  {example}"  # \b: click keeps the line as written


def install(command: click.Command, path: str = "") -> None:
    """Give `command` and every command below it its example (unless it set an epilog)."""
    if not command.epilog and path in EXAMPLES:
        command.epilog = _epilog(EXAMPLES[path])
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            install(sub, f"{path} {name}".strip())
