"""`fluxform artifact ...`: Flux OCI artifacts for air-gapped delivery.

    artifact list-charts PATH                     charts the fleet's HelmReleases need
    artifact push DIR oci://HOST/REPO:TAG         build + push (prints the digest)
    artifact pull REF DIR                         verify + unpack (-o json: the result as JSON)
    artifact inspect REF                          digest, annotations, size, charts, signature
    artifact export REF FILE.tar                  OCI layout with charts and signatures
    artifact import FILE.tar oci://HOST/REPO:TAG  into an internal registry

REF is `oci://HOST/REPO:TAG`, `oci://HOST/REPO@sha256:…`, an OCI layout tar or directory.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from fluxform.commands.console import progress
from fluxform.commands.options import fleet_options, output_option
from fluxform.commands.sizes import parse_size
from fluxform.errors import FluxformWarning
from fluxform.helm import ResolvedChart
from fluxform.planner.options import FleetOptions
from fluxform.planner.releases import HelmOptions, chart_pull_hook
from fluxform.planner.workflow import rendered_fleet
from fluxform.progress import Progress, Stage, stage, timed
from fluxform.sources.chart_cache import ChartCache
from fluxform.sources.oci.chartmirror import ChartRecorder, RecordedChart, chart_image
from fluxform.sources.oci.cosignkey import key_password, load_private_key, load_public_key
from fluxform.sources.oci.format import FLUX_IGNORE_PATHS
from fluxform.sources.oci.materialize import MaterializeOptions, inspect_artifact, pull_artifact
from fluxform.sources.oci.push import DEFAULT_MAX_SIZE, PushRequest, push_artifact
from fluxform.sources.oci.reference import parse_artifact_ref
from fluxform.sources.oci.store import RegistryAccess
from fluxform.sources.oci.transfer import export_artifact, import_artifact
from fluxform.views.tables import format_table

__all__ = ["artifact_group"]


def _registry_options(func: Any) -> Any:
    options = [
        click.option("--plain-http", is_flag=True, help="Talk HTTP, not HTTPS, to the registry (internal registries)."),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="PEM CA certificate to trust for the registry (self-signed / private CA).",
        ),
        click.option(
            "--max-artifact-size",
            default="512MiB",
            show_default=True,
            help="Refuse artifacts (compressed layer or unpacked files) larger than this.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _verify_option(func: Any) -> Any:
    return click.option(
        "--verify-key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="cosign public key: refuse the artifact unless a signature verifies with it (offline).",
    )(func)


def _materialize_options(opts: dict[str, Any]) -> MaterializeOptions:
    access = RegistryAccess(plain_http=bool(opts.get("plain_http")), ca_file=opts.get("ca_file"))
    key = load_public_key(opts["verify_key"]) if opts.get("verify_key") else None
    return MaterializeOptions(
        access=access, verify_key=key, max_size=parse_size(str(opts.get("max_artifact_size") or "0"))
    )


@click.group("artifact")
def artifact_group() -> None:
    """Flux OCI artifacts: push, pull, inspect, export and import (air-gapped delivery)."""


# --- charts --------------------------------------------------------------------------------


@contextlib.contextmanager
def _transfer(label: str, item: str) -> Iterator[Progress]:
    """Progress on stderr while an artifact moves (one item: it, with its time)."""
    with progress() as observer, stage(observer, Stage.TRANSFER, label, 1), timed(observer, Stage.TRANSFER, item):
        yield observer


def _recorded_charts(
    paths: tuple[Path, ...], fleet: FleetOptions, observer: Progress | None = None
) -> list[RecordedChart]:
    """Every chart the fleets at `paths` need, resolved from the chart cache only."""
    recorder = ChartRecorder()
    for path in paths:
        request = fleet.request(progress=observer)
        cache = ChartCache(fleet.chart_cache) if fleet.chart_cache is not None else None
        helm = HelmOptions(offline=True, cache=cache, fetcher=recorder)
        pulled: list[ResolvedChart] = []
        request = replace(request, discover=replace(request.discover, helm=chart_pull_hook(helm, pulled)))
        with rendered_fleet(path, request):
            pass
    return recorder.charts()


def _chart_rows(recorded: list[RecordedChart]) -> list[list[str]]:
    rows = []
    for record in recorded:
        fetched = record.fetched
        name, tag, _, _ = chart_image(fetched.data, f"chart {fetched.name} {fetched.version}")
        rows.append([fetched.name, fetched.version, fetched.source, fetched.digest, f"charts/{name}:{tag}"])
    return rows


@artifact_group.command("list-charts")
@click.argument("path", type=click.Path(path_type=Path))
@fleet_options
def list_charts(path: Path, fleet: FleetOptions) -> None:
    """Charts the HelmReleases of the fleet at PATH need, from the chart cache (fill it with
    `fluxform charts pull`), and where `push --include-charts` mirrors them."""
    with progress() as observer:
        rows = _chart_rows(_recorded_charts((path,), fleet, observer))
    click.echo(format_table(["CHART", "VERSION", "SOURCE", "DIGEST", "MIRRORED AS"], rows), nl=False)


# --- push ----------------------------------------------------------------------------------


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """A Flux string-slice flag: repeatable and comma-separated."""
    return tuple(p.strip() for value in values for p in value.split(",") if p.strip())


def _annotations(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key or "=" in text:
            raise click.BadParameter(f"invalid annotation {value!r}, must be in the format key=value")
        out[key] = text
    return out


@artifact_group.command("push")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("url")
@click.option("--source", "source_url", default="", help="Source address annotation (default: git remote.origin.url).")
@click.option("--revision", default="", help="Revision annotation, <branch>@sha1:<commit> (default: from git).")
@click.option("--creation-time", default="", help="RFC 3339 creation time (default: the git commit time).")
@click.option("--reproducible", is_flag=True, help="Set the creation time to 1970-01-01T00:00:00Z, as Flux's flag.")
@click.option("--ignore-paths", multiple=True, help="Paths to ignore, gitignore format (replaces Flux's default).")
@click.option("--add-ignore-paths", multiple=True, help="Paths to ignore besides --ignore-paths.")
@click.option("--annotations", "-a", "annotation_values", multiple=True, help="Extra OCI annotation key=value.")
@click.option("--include-charts", is_flag=True, help="Mirror the charts the fleet's HelmReleases need beside it.")
@click.option(
    "--cluster",
    "clusters",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Cluster path whose HelmReleases' charts --include-charts mirrors (repeatable; default: DIRECTORY).",
)
@click.option("--keys-dir", type=click.Path(exists=True, file_okay=False), help="Decryption keys (--include-charts).")
@click.option("--decryption-key", multiple=True, type=click.Path(exists=True, dir_okay=False), help="age/PGP key.")
@click.option("--chart-cache", type=click.Path(file_okay=False), help="Chart cache to take charts from.")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="cosign private key.")
@_registry_options
def push(
    directory: Path,
    url: str,
    source_url: str,
    revision: str,
    creation_time: str,
    reproducible: bool,
    ignore_paths: tuple[str, ...],
    add_ignore_paths: tuple[str, ...],
    annotation_values: tuple[str, ...],
    include_charts: bool,
    clusters: tuple[Path, ...],
    sign_key: Path | None,
    **opts: Any,
) -> None:
    """Push DIRECTORY as a Flux OCI artifact to URL (oci://HOST/REPO:TAG); prints the digest.

    Signing reads the key's password from $COSIGN_PASSWORD, as cosign does."""
    target = parse_artifact_ref(url, need_tag=True)
    with _transfer(f"Pushing {directory} to {url}", url) as observer:
        charts: list[RecordedChart] = []
        if include_charts:
            fleet = FleetOptions(
                keys_dir=Path(opts["keys_dir"]) if opts.get("keys_dir") else None,
                decryption_keys=tuple(Path(p) for p in opts.get("decryption_key") or ()),
                chart_cache=Path(opts["chart_cache"]) if opts.get("chart_cache") else None,
            )
            charts = _recorded_charts(clusters or (directory,), fleet, observer)
        request = PushRequest(
            directory=directory,
            target=target,
            source=source_url,
            revision=revision,
            created=creation_time or ("1970-01-01T00:00:00Z" if reproducible else ""),
            ignore_paths=(*(_split(ignore_paths) or FLUX_IGNORE_PATHS), *_split(add_ignore_paths)),
            annotations=_annotations(annotation_values),
            charts=charts,
            sign_key=load_private_key(sign_key, key_password()) if sign_key else None,
            max_size=parse_size(str(opts.get("max_artifact_size") or DEFAULT_MAX_SIZE)),
        )
        access = RegistryAccess(plain_http=bool(opts.get("plain_http")), ca_file=opts.get("ca_file"))
        result = push_artifact(request, access)
    click.echo(result.digest)
    extras = [f"{result.files} files", f"{result.size} bytes"]
    if result.charts:
        extras.append(f"{len({c.manifest for c in result.charts})} charts")
    if result.signature:
        extras.append("signed")
    click.echo(f"pushed {result.reference} ({', '.join(extras)})", err=True)


# --- pull, inspect, export, import -------------------------------------------------------


@artifact_group.command("pull")
@click.argument("ref")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option("--dir", "dir_option", type=click.Path(path_type=Path), help="Directory to unpack into (or DIRECTORY).")
@click.option(
    "-o",
    "--output",
    default="text",
    show_default=True,
    metavar="text|json",
    help="Output format. (A directory here is read as --dir DIR, as before; deprecated.)",
)
@_verify_option
@_registry_options
def pull(ref: str, directory: Path | None, dir_option: Path | None, output: str, **opts: Any) -> None:
    """Verify REF and unpack its content layer into DIRECTORY (new or empty; or --dir)."""
    target = _pull_directory(directory, dir_option, output)
    output = output if output in ("text", "json") else "text"
    with _transfer(f"Pulling {ref}", ref):
        result = pull_artifact(ref, target, _materialize_options(opts))
    if output == "json":
        doc = {"reference": result.reference, "digest": result.digest, "directory": str(target),
               "files": result.files, "signaturesVerified": result.signatures}  # fmt: skip
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(result.digest)
    verified = f", {result.signatures} signature(s) verified" if result.signatures else ""
    click.echo(f"pulled {result.reference} into {target} ({result.files} files{verified})", err=True)


def _pull_directory(directory: Path | None, dir_option: Path | None, output: str) -> Path:
    """Where `artifact pull` unpacks: DIRECTORY or --dir; `-o DIR` (from before -o was the
    format) still works, with a warning."""
    given = [d for d in (directory, dir_option) if d is not None]
    if output not in ("text", "json"):
        if given:
            raise click.UsageError(f"-o {output!r} is not text or json (and the directory is given)")
        warnings.warn(f"artifact pull -o DIR is deprecated: use --dir {output}", FluxformWarning, stacklevel=1)
        return Path(output)
    if len(given) == 2 and given[0] != given[1]:
        raise click.UsageError("give the directory once: DIRECTORY or --dir")
    if not given:
        raise click.UsageError("missing the directory to unpack into: artifact pull REF DIRECTORY (or --dir)")
    return given[0]


@artifact_group.command("inspect")
@click.argument("ref")
@output_option("text", "json")
@_verify_option
@_registry_options
def inspect(ref: str, output: str, **opts: Any) -> None:
    """Digest, annotations, size, layers, charts and signature of REF."""
    options = _materialize_options(opts)
    info = inspect_artifact(ref, options.access, options.verify_key)
    charts = [c.to_json() for c in info.charts]
    if output == "json":
        doc = {
            "reference": info.reference,
            "digest": info.digest,
            "mediaType": info.media_type,
            "size": info.size,
            "layers": [layer.to_json() for layer in info.layers],
            "annotations": dict(sorted(info.annotations.items())),
            "charts": charts,
            "signed": info.signed,
            "signaturesVerified": info.signatures,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    lines = [f"reference: {info.reference}", f"digest:    {info.digest}", f"size:      {info.size} bytes"]
    lines += [f"layer:     {layer.media_type} {layer.digest} ({layer.size} bytes)" for layer in info.layers]
    signed = "yes" if info.signed else "no"
    if info.signatures:
        signed += f" ({info.signatures} verified)"
    lines.append(f"signed:    {signed}")
    lines += ["annotations:"] + [
        f"  {key}: {value}" for key, value in sorted(info.annotations.items()) if key != "dev.fluxform.charts"
    ]
    click.echo("\n".join(lines))
    if info.charts:
        rows = [[c.name, c.version, c.ref, c.digest] for c in info.charts]
        click.echo("charts:")
        click.echo(format_table(["CHART", "VERSION", "MIRRORED AS", "DIGEST"], rows), nl=False)
    else:
        click.echo("charts:    none")


@artifact_group.command("export")
@click.argument("ref")
@click.argument("file", type=click.Path(path_type=Path))
@_verify_option
@_registry_options
def export(ref: str, file: Path, **opts: Any) -> None:
    """Write REF, its charts and signatures as an OCI image layout (FILE.tar, or a directory)."""
    with _transfer(f"Exporting {ref}", ref):
        result = export_artifact(ref, file, _materialize_options(opts))
    click.echo(result.digest)
    click.echo(f"exported {result.reference} ({result.charts} charts, signed: {result.signatures})", err=True)


@artifact_group.command("import")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@click.argument("url")
@_verify_option
@_registry_options
def import_(file: Path, url: str, **opts: Any) -> None:
    """Push the fleet, charts and signatures of layout FILE to URL (oci://HOST/REPO:TAG)."""
    with _transfer(f"Importing {file} into {url}", url):
        result = import_artifact(file, parse_artifact_ref(url, need_tag=True), _materialize_options(opts))
    click.echo(result.digest)
    click.echo(f"imported {result.reference} ({result.charts} charts, signed: {result.signatures})", err=True)
