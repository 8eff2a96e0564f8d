"""`fluxform state ...` and `fluxform force-unlock`: inspect and repair state.

Registered by cli.py (`cli.add_command(state_group)`, `cli.add_command(force_unlock)`).
Every command finds its backend the same way: flags, else fluxform.yaml, else the local
file for the kubeconfig's current context.

    fluxform state list
    fluxform state rm default_podinfo_apps_Deployment
    fluxform state history --backend kubernetes --backend-namespace fluxform-state
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from fluxform import yamlio
from fluxform.commands.options import output_option, state_options
from fluxform.config import FluxformConfig
from fluxform.errors import FluxformWarning, StateError
from fluxform.objects import ObjectId
from fluxform.private_file import write_private
from fluxform.state.backend import StateBackend, locked
from fluxform.state.model import OwnerState, StateFile, StateObject, state_from_json, state_to_json, without_ids
from fluxform.target import TargetFlags, resolve_target
from fluxform.views.documents import render_document

__all__ = ["force_unlock", "state_group"]


@dataclass(frozen=True, slots=True)
class _Target:
    backend: StateBackend
    config: FluxformConfig


def _open(flags: TargetFlags) -> _Target:
    """The backend the flags and config select (the same rule `plan` uses)."""
    resolved = resolve_target(flags, default_state=True)
    assert resolved.state is not None
    return _Target(resolved.state, resolved.config)


def _read(target: _Target) -> StateFile:
    state = target.backend.read()
    if state is None:
        raise StateError(f"no state at {target.backend.location}", hint=_where_states_are(target.backend))
    return state


def _where_states_are(backend: StateBackend) -> str:
    """`plan PATH` and `apply PATH` keep the default local state beside PATH, while the
    `state` commands look in the working directory: name the files of that name below it."""
    from fluxform.state.local import LocalBackend

    if isinstance(backend, LocalBackend):
        cwd = Path.cwd()
        found = sorted(
            p
            for depth in range(1, 5)
            for p in cwd.glob("/".join(["*"] * depth + [backend.path.parent.name, backend.path.name]))
            if p.is_file()
        )
        if found:
            names = ", ".join(str(p.relative_to(cwd)) for p in found[:3])
            return f"plan and apply keep it beside the fleet path: found {names}; run there or pass --state FILE"
    return "nothing was applied with this state yet"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _resolve(state: StateFile, text: str) -> ObjectId:
    """An owner or object id, given as an inventory id or as Kind/namespace/name."""
    known = set(state.objects()) | set(state.owners)
    try:
        parsed = ObjectId.parse(text)
        if parsed in known:
            return parsed
    except ValueError:
        pass
    matches = sorted({oid for oid in known if str(oid) == text or oid.inventory_id() == text})
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(oid.inventory_id() for oid in matches)
        raise StateError(f"{text!r} matches several objects in state: {listed}", hint="use the inventory id")
    raise StateError(f"{text!r} is not in state", hint="fluxform state list shows the recorded ids")


@click.group("state")
def state_group() -> None:
    """Inspect and edit the recorded state (never touches the cluster)."""


@state_group.command("list")
@click.option("--owner", help="Only objects of this Kustomization/HelmRelease.")
@output_option("text", "wide", "json", "yaml")
@state_options
def list_objects(owner: str | None, output: str, target: TargetFlags) -> None:
    """List recorded objects: inventory id, API version, owner (wide: digest, when applied)."""
    state = _read(_open(target))
    owner_id = _resolve(state, owner) if owner else None
    listed = [(own, obj) for _, (own, obj) in sorted(state.objects().items()) if owner_id is None or own.id == owner_id]
    if output in ("json", "yaml"):
        items = [{**_object_dict(obj), "owner": own.id.inventory_id()} for own, obj in listed]
        click.echo(render_document(_document("objects", state, items), output), nl=False)
        return
    rows = [[obj.id.inventory_id(), obj.api_version, str(own.id)] for own, obj in listed]
    if output == "wide":
        rows = [[*row, obj.digest[:19], own.applied_at] for row, (own, obj) in zip(rows, listed, strict=True)]
    headers = ["ID", "API VERSION", "OWNER"] + (["DIGEST", "APPLIED AT"] if output == "wide" else [])
    click.echo(_table(headers, rows) if rows else "No objects in state.")


def _document(kind: str, state: StateFile, items: list[dict[str, Any]]) -> dict[str, Any]:
    """`state list|history -o json|yaml`: which state, and its items (documented in docs/output.md)."""
    return {
        "kind": f"fluxform-state-{kind}",
        "format_version": "1.0",
        "lineage": state.lineage,
        "serial": state.serial,
        "items": items,
    }


def _object_dict(obj: StateObject) -> dict[str, Any]:
    return {"id": obj.id.inventory_id(), "api_version": obj.api_version, "digest": obj.digest}


def _owner_dict(owner: OwnerState) -> dict[str, Any]:
    return {
        "kind": "owner",
        "id": owner.id.inventory_id(),
        "prune": owner.prune,
        "source_revision": owner.source_revision,
        "source_digest": owner.source_digest,
        "applied_at": owner.applied_at,
        "applied_by": owner.applied_by,
        "field_manager": owner.field_manager,
        "objects": [_object_dict(obj) for obj in owner.objects],
    }


@state_group.command("show")
@click.argument("object_id", metavar="ID")
@output_option("text", "json", "yaml")
@state_options
def show(object_id: str, output: str, target: TargetFlags) -> None:
    """Show one recorded owner or object (Secret values are masked in state)."""
    state = _read(_open(target))
    oid = _resolve(state, object_id)
    if oid in state.owners:
        owner = state.owners[oid]
        text = _owner_text(owner) + "\n" if output == "text" else render_document(_owner_dict(owner), output)
    else:
        owner, obj = state.objects()[oid]
        document = {
            "kind": "object",
            **_object_dict(obj),
            "owner": owner.id.inventory_id(),
            "secret_values_sealed": obj.sealed_values is not None,
            "manifest": dict(obj.manifest) if obj.manifest is not None else None,
        }
        text = _object_text(owner, obj) + "\n" if output == "text" else render_document(document, output)
    click.echo(text, nl=False)


def _owner_text(owner: OwnerState) -> str:
    fields = [
        ("owner", owner.id.inventory_id()),
        ("prune", str(owner.prune).lower()),
        ("source revision", owner.source_revision),
        ("source digest", owner.source_digest or "-"),
        ("applied at", owner.applied_at),
        ("applied by", owner.applied_by),
        ("field manager", owner.field_manager or "-"),
        ("objects", str(len(owner.objects))),
    ]
    rows = [[obj.id.inventory_id(), obj.api_version, obj.digest[:19]] for obj in owner.objects]
    body = _table(["ID", "API VERSION", "DIGEST"], rows) if rows else "(no objects)"
    return "\n".join(f"{name}: {value}" for name, value in fields) + "\n\n" + body


def _object_text(owner: OwnerState, obj: StateObject) -> str:
    lines = [
        f"id: {obj.id.inventory_id()}",
        f"api version: {obj.api_version}",
        f"owner: {owner.id.inventory_id()}",
        f"digest: {obj.digest}",
        f"applied at: {owner.applied_at} by {owner.applied_by} from {owner.source_revision}",
    ]
    if obj.is_secret:
        kept = "age-encrypted in state" if obj.sealed_values else "not kept (rollback re-renders them from source)"
        lines.append(f"secret values: {kept}")
    manifest = yamlio.dump(dict(obj.manifest)).rstrip() if obj.manifest is not None else "(manifest not kept)"
    return "\n".join(lines) + "\n\n" + manifest


@state_group.command("rm")
@click.argument("object_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--lock-timeout", type=float, default=None, help="Seconds to wait for a held lock.")
@state_options
def remove(object_ids: tuple[str, ...], lock_timeout: float | None, target: TargetFlags) -> None:
    """Forget objects or whole owners; the cluster keeps them (fluxform will not prune them)."""
    opened = _open(target)
    timeout = opened.config.state.lock_timeout if lock_timeout is None else lock_timeout
    with locked(opened.backend, "state rm", timeout=timeout) as info:
        state = _read(opened)
        ids = [_resolve(state, text) for text in object_ids]
        forgotten = [oid for oid in ids if oid not in state.owners]
        forgotten += [obj.id for oid in ids if oid in state.owners for obj in state.owners[oid].objects]
        new = without_ids(state, ids, by=info.who, history_limit=opened.config.state.history_limit)
        written = opened.backend.write(new)
    for oid in ids:
        click.echo(f"Removed {oid.inventory_id()}")
    click.echo(f"Forgot {len(set(forgotten))} object(s) (state serial {written.serial}); the cluster was not changed.")


@state_group.command("history")
@output_option("text", "json", "yaml")
@state_options
def history(output: str, target: TargetFlags) -> None:
    """List the revisions kept for rollback, newest first."""
    state = _read(_open(target))
    current = (state.serial, state.written_at, state.written_by, state.operation, state.owners)
    revisions = [current, *((r.serial, r.written_at, r.written_by, r.operation, r.owners) for r in state.history)]
    if output != "text":
        provenance = {r.serial: (r.source_commit, r.actions) for r in state.history}
        provenance[state.serial] = (state.source_commit, state.actions)
        items = [
            {
                "serial": serial,
                "current": serial == state.serial,
                "written_at": at,
                "written_by": by,
                "operation": op,
                "owners": len(owners),
                "objects": sum(len(o.objects) for o in owners.values()),
                "source_commit": provenance[serial][0],
                "actions": [
                    {"owner": str(a.owner), "id": str(a.id), "action": a.action, "detail": a.detail}
                    for a in provenance[serial][1]
                ],
            }
            for serial, at, by, op, owners in sorted(revisions, key=lambda r: -r[0])
        ]
        click.echo(render_document(_document("history", state, items), output), nl=False)
        return
    rows = [
        [
            f"{serial}{' (current)' if serial == state.serial else ''}",
            at or "-",
            by or "-",
            op or "-",
            str(len(owners)),
            str(sum(len(o.objects) for o in owners.values())),
        ]
        for serial, at, by, op, owners in sorted(revisions, key=lambda r: -r[0])
    ]
    click.echo(_table(["SERIAL", "WRITTEN AT", "BY", "OPERATION", "OWNERS", "OBJECTS"], rows))


@state_group.command("pull")
@click.option(
    "-o",
    "--output",
    default="json",
    show_default=True,
    metavar="json|yaml",
    help="Output format. (A file name here is read as --out FILE, as before; deprecated.)",
)
@click.option("--format", "format_alias", type=click.Choice(["json", "yaml"]), default=None, hidden=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to a file, not stdout.")
@click.option(
    "--show-mask-key",
    is_flag=True,
    help="Print the state's maskKey (the HMAC key of Secret fingerprints) instead of a placeholder.",
)
@state_options
def pull(output: str, format_alias: str | None, out: Path | None, show_mask_key: bool, target: TargetFlags) -> None:
    """Print the stored state as JSON, or YAML (Secret values stay masked or encrypted).
    `state push` reads the JSON form. The maskKey is replaced by a placeholder unless
    --show-mask-key: with it, anyone could test guesses of a Secret value against its
    fingerprint; `state push` of a pulled file keeps the stored key."""
    output = format_alias or output
    if output not in ("json", "yaml"):  # `-o FILE` meant --out before -o became the format
        if out is not None:
            raise click.UsageError(f"-o {output!r} is not json or yaml (and --out names the file)")
        warnings.warn(f"state pull -o FILE is deprecated: use --out {output}", FluxformWarning, stacklevel=1)
        output, out = "json", Path(output)
    state = _read(_open(target))
    text = state_to_json(state)
    if not show_mask_key:
        text = text.replace(_mask_key_field(state.mask_key), _mask_key_field(REDACTED_MASK_KEY), 1)
    if output == "yaml":
        text = render_document(json.loads(text), "yaml")
    if out is None:
        click.echo(text, nl=False)
    else:
        write_private(out, text, what=f"state file {out}")


@state_group.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Push even when FILE has another lineage or an older serial.")
@click.option("--lock-timeout", type=float, default=None, help="Seconds to wait for a held lock.")
@state_options
def push(file: Path, force: bool, lock_timeout: float | None, target: TargetFlags) -> None:
    """Replace the stored state with FILE (refuses an older serial or another lineage). A
    maskKey `state pull` left out is the stored state's."""
    data = file.read_bytes()
    redacted = _mask_key_field(REDACTED_MASK_KEY).encode() in data
    opened = _open(target)
    timeout = opened.config.state.lock_timeout if lock_timeout is None else lock_timeout
    with locked(opened.backend, "state push", timeout=timeout):
        current = opened.backend.read()
        if redacted and current is None:
            raise StateError(
                f"{file} has no maskKey (state pull leaves it out) and there is no stored state to take it from",
                hint="pull it again with --show-mask-key to move a state to a new backend",
            )
        if redacted and current is not None:
            data = data.replace(
                _mask_key_field(REDACTED_MASK_KEY).encode(), _mask_key_field(current.mask_key).encode(), 1
            )
        pushed = state_from_json(data, str(file))
        if current is not None and not force:
            _check_push(pushed, current, str(file))
        base = pushed if current is None else replace(pushed, serial=current.serial)
        written = opened.backend.write(base, force=force)
    click.echo(f"Pushed {file} to {opened.backend.location} as serial {written.serial} (lineage {written.lineage}).")


#: what `state pull` prints for the maskKey (without --show-mask-key); `state push` reads it
REDACTED_MASK_KEY = "(redacted: state pull --show-mask-key prints it)"


def _mask_key_field(value: str) -> str:
    """The maskKey field as the state's JSON writes it (state/codec.py)."""
    return f'"maskKey":{json.dumps(value)}'


def _check_push(pushed: StateFile, current: StateFile, origin: str) -> None:
    """Terraform's rules: same lineage, and not older than what is stored."""
    if pushed.lineage != current.lineage:
        raise StateError(
            f"{origin} has lineage {pushed.lineage}, the stored state {current.lineage}: they are different states",
            hint="push --force replaces it anyway",
        )
    if pushed.serial < current.serial:
        raise StateError(
            f"{origin} has serial {pushed.serial}, older than the stored serial {current.serial}",
            hint="pull the current state first, or push --force",
        )
    if pushed.serial == current.serial and state_to_json(pushed) != state_to_json(current):
        raise StateError(
            f"{origin} has the stored serial {current.serial} but different content",
            hint="pull the current state first, or push --force",
        )


@click.command("force-unlock")
@click.argument("lock_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@state_options
def force_unlock(lock_id: str, yes: bool, target: TargetFlags) -> None:
    """Break the state lock LOCK_ID left by a process that is gone."""
    opened = _open(target)
    holder = opened.backend.lock_holder()
    if holder is not None and not yes:
        click.echo(f"The state is locked by {holder.describe()}.", err=True)
        click.confirm("Unlocking while that process still runs can corrupt the state. Unlock?", abort=True, err=True)
    opened.backend.force_unlock(lock_id)
    click.echo(f"Lock {lock_id} on {opened.backend.location} released.")
